"""What the console asks a Prometheus-compatible source about each node, in PromQL over
prometheus-node-exporter's series. One place: the Nodes pane queries these, and the alert
rules (stacks/rules.py) fire on the same expressions, so a node the pane colours red is the
node the rule fires for.

Every expression keeps the `instance` label (the exporter's scrape address); the disk ones
keep `mountpoint` too. Rates are over the last minute, the window every threshold of the
console applies to (README: "the thresholds apply to the last minute")."""

from __future__ import annotations

# Filesystems that are not a node's disks: memory, images' layers, pseudo filesystems, the
# shared GlusterFS mount (its bricks are the disks; the Storage pane shows the volume).
_FS = 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.lxcfs|fuse.glusterfs|autofs"'
# Interfaces that are not the node's links: loopback and Docker's virtual plumbing.
_NET = 'device!~"lo|veth.*|docker.*|br-.*|vx-.*|cali.*|flannel.*"'

CPU_PCT = '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m])))'
MEMORY_PCT = "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)"
LOAD_PER_CORE = ('node_load1 / on (instance) '
                 'count by (instance) (node_cpu_seconds_total{mode="idle"})')
DISK_PCT = (f"100 * (1 - node_filesystem_avail_bytes{{{_FS}}}"
            f" / node_filesystem_size_bytes{{{_FS}}})")
# Days until the filesystem is full at the rate of the last 6 hours (predict_linear: the
# free bytes a day from now, so the drop per day is now minus that); only filesystems that
# are filling, and only with an hour of history: a rate read from minutes of a busy start
# says "full in 20 minutes" of a disk that is not filling.
_AVAIL = f"node_filesystem_avail_bytes{{{_FS}}}"
DAYS_UNTIL_FULL = (f"({_AVAIL} / (({_AVAIL} - predict_linear({_AVAIL}[6h], 86400)) > 0))"
                   f" and on (instance, device, mountpoint)"
                   f" (time() - min_over_time(timestamp({_AVAIL})[6h:1m]) > 3600)")
NET_IN_BPS = f"sum by (instance) (rate(node_network_receive_bytes_total{{{_NET}}}[1m]))"
NET_OUT_BPS = f"sum by (instance) (rate(node_network_transmit_bytes_total{{{_NET}}}[1m]))"
BANDWIDTH_PCT = (f"100 * rate(node_network_transmit_bytes_total{{{_NET}}}[1m])"
                 f" / node_network_speed_bytes{{{_NET}}} > 0")
# The node's own name (uname -n), to match a series to a Swarm node by hostname.
UNAME = "node_uname_info"

# field of the Nodes pane -> its query (instant).
NODE_QUERIES: dict[str, str] = {
    "cpu_pct": CPU_PCT,
    "memory_pct": MEMORY_PCT,
    "load_per_core": LOAD_PER_CORE,
    "disk_pct": DISK_PCT,
    "days_until_full": DAYS_UNTIL_FULL,
    "net_in_bps": NET_IN_BPS,
    "net_out_bps": NET_OUT_BPS,
}
