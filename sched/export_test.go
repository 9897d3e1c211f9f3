package sched

// ScanOnly makes every placement on s scan every node, as before indexes:
// the reference the differential test compares the indexed path with.
func ScanOnly(s *Snapshot) { s.plain = true }

// IndexedShapes is how many request shapes s indexes now.
func IndexedShapes(s *Snapshot) int { return len(s.shapes) }
