package api

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/docker/docker/pkg/stdcopy"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// proxyLogs passes a logs request to the container's engine and streams
// its answer frame by frame. When the stream breaks before its end (the
// node turned Unhealthy: a hung engine; or the engine's connection
// failed), a container without a TTY gets, as its last frame, a system
// error frame of Docker's stream framing that names the node and why: the
// docker CLI ends `docker logs -f` with "error from daemon in stream: …"
// and a failed exit, not a bare end of stream that reads as the
// container's own end. A TTY container's stream has no framing to say
// it in: it is cut (no last chunk), so the CLI fails ("unexpected EOF")
// rather than end as if the container had.
func (s *Server) proxyLogs(w http.ResponseWriter, r *http.Request, p backend.Proxied, path string, ct *model.Container, n *model.Node) {
	tty, err := engineTTY(r, p, ct.ID)
	if err != nil {
		writeError(w, engineError(r, err))
		return
	}
	resp, err := p.HTTPClient().Do(outgoing(r, p, path))
	if err != nil {
		writeError(w, engineError(r, err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		passThrough(w, resp) // the engine's refusal
		return
	}
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	rc.Flush()
	if tty {
		err = copyRaw(w, rc, resp.Body)
	} else {
		err = copyFrames(w, rc, resp.Body)
	}
	if err == nil || r.Context().Err() != nil && !errors.Is(context.Cause(r.Context()), backend.ErrNodeDown) {
		return // the end of the logs, or the client left
	}
	if tty {
		panic(http.ErrAbortHandler) // cut: the stream did not end, it broke
	}
	why := backend.NodeDownCause(r.Context(), err)
	if errors.Is(why, backend.ErrNodeDown) {
		if v := s.nodeAt(n.Addr); v != nil && v.Error != "" {
			why = fmt.Errorf("%w: %s", why, v.Error)
		}
	}
	writeFrame(w, stdcopy.Systemerr, fmt.Sprintf("logs of %s on node %s ended: %v", ct.Name, n.Name, why))
	rc.Flush()
}

// engineTTY reports whether the container has a TTY, as its engine says:
// a TTY's logs are raw bytes, the others are in Docker's frames.
func engineTTY(r *http.Request, p backend.Proxied, id string) (bool, error) {
	resp, err := get(r, p, "/containers/"+id+"/json")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var doc struct{ Config struct{ Tty bool } }
	if resp.StatusCode >= 300 {
		return false, nil // the logs request itself gets the engine's answer
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return false, fmt.Errorf("inspecting %s on its engine: %w", id, err)
	}
	return doc.Config.Tty, nil
}

// copyFrames copies Docker's framed stream (an 8-byte header: the stream,
// three zeros, the payload's size; then the payload) a whole frame at a
// time, flushing each: a broken stream never leaves half a frame, so a
// frame can follow. It returns nil at the stream's end between frames.
func copyFrames(w io.Writer, rc *http.ResponseController, body io.Reader) error {
	var hdr [8]byte
	buf := make([]byte, 32<<10)
	for {
		if _, err := io.ReadFull(body, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		size := int(binary.BigEndian.Uint32(hdr[4:]))
		if size > len(buf) {
			buf = make([]byte, size)
		}
		if _, err := io.ReadFull(body, buf[:size]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if _, err := w.Write(hdr[:]); err != nil {
			return nil // the client left
		}
		if _, err := w.Write(buf[:size]); err != nil {
			return nil
		}
		rc.Flush()
	}
}

// copyRaw copies a TTY's stream as it comes, flushing each read; nil at
// its end.
func copyRaw(w io.Writer, rc *http.ResponseController, body io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil // the client left
			}
			rc.Flush()
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// writeFrame writes one frame of Docker's stream framing.
func writeFrame(w io.Writer, stream stdcopy.StdType, msg string) {
	var hdr [8]byte
	hdr[0] = byte(stream)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(msg)))
	w.Write(hdr[:])
	io.WriteString(w, msg)
}

// nodeAt is the node at addr as the manager sees it now, or nil.
func (s *Server) nodeAt(addr string) *model.Node {
	for _, n := range s.c.Nodes() {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}
