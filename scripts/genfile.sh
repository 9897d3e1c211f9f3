#!/bin/sh
# A generated cluster file for measuring at scale (scripts/c1m.sh uses it):
# nodes of 16 CPUs and 64 GiB, zone and disk labels, nginx present.
#   scripts/genfile.sh NODES [CONTAINERS_PER_NODE] [short] > FILE
# Containers are {name, image: nginx, cpus: 0.1, memory: 64m}, or with
# `short` name and image only (100,000 nodes × 10 then fit the 64 MiB limit).
set -eu
awk -v n="$1" -v k="${2:-0}" -v short="${3:-}" 'BEGIN {
  print "strategy: spread"; print "nodes:"; split("eu us ap", z, " ")
  for (i = 1; i <= n; i++) {
    printf "  - name: node-%d\n    addr: 10.%d.%d.%d:2375\n    cpus: 16\n    memory: 64GiB\n    labels: {zone: %s, disk: %s}\n    images: [nginx:1.25]\n",
      i, int(i / 65536), int(i / 256) % 256, i % 256, z[i % 3 + 1], (i % 2 ? "ssd" : "hdd")
    if (k > 0) print "    containers:"
    for (j = 1; j <= k; j++)
      if (short) printf "    - {name: c%d-%d, image: nginx}\n", i, j
      else printf "    - {name: c%d-%d, image: nginx, cpus: 0.1, memory: 64m}\n", i, j
  }
}'
