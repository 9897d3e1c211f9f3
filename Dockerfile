# swarmdeck as a container, as the talk ran Swarm: one static binary FROM
# scratch, running as a non-root user (65532).
#
# Build it with scripts/image.sh: it builds the binary on the host
# (CGO_ENABLED=0, so nothing is pulled and no registry is needed) and
# prepares the context this file expects (rootfs/).
#
#   docker run -d --net host swarmdeck manage -H tcp://0.0.0.0:3376 --tlsverify … consul://…
#   docker run -d --net host swarmdeck join --advertise 10.0.0.1:2375 consul://…
#   docker run -it swarmdeck        the console on the embedded simulated cluster
FROM scratch
COPY rootfs/ /
USER 65532:65532
ENV TMPDIR=/tmp
EXPOSE 2375 3376
ENTRYPOINT ["/swarmdeck"]
