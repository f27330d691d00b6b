#!/bin/sh
# shard-entrypoint.sh - starts one shard of a mosquitto-twin cluster (README, "Scaling out") in a container:
# writes its mosquitto.conf from the environment, then runs the broker with it.
#   TWIN_SHARD_INDEX  1..TWIN_SHARD_COUNT; when unset, taken from the host name's trailing ordinal
#                     (a Kubernetes StatefulSet's pod shard-0 is shard 1)
#   TWIN_SHARD_COUNT  shards in the fleet (default 3)
#   TWIN_SLOT_COUNT   slots in the fleet (default 1024; HAProxy's mod(N) must say the same)
#   TWIN_NATS         NATS URLs, comma-separated (default nats://nats:4222)
#   TWIN_EVENTS_REPLICAS  replicas of the JetStream events stream the first shard creates (default 3;
#                     every twin change goes to it: README, "Events on JetStream")
#   TWIN_CONF         where the configuration is written (default /etc/mosquitto/mosquitto.conf)
# Shard i owns slots ceil((i-1)*N/K) .. ceil(i*N/K)-1, as cluster/local.sh and docker/cluster/slots.map.
# --print writes the configuration to stdout and starts nothing.
set -eu

count="${TWIN_SHARD_COUNT:-3}"
slots="${TWIN_SLOT_COUNT:-1024}"
nats="${TWIN_NATS:-nats://nats:4222}"
replicas="${TWIN_EVENTS_REPLICAS:-3}"
conf="${TWIN_CONF:-/etc/mosquitto/mosquitto.conf}"
index="${TWIN_SHARD_INDEX:-}"
if [ -z "$index" ]; then
	ordinal="${HOSTNAME##*-}"
	case "$ordinal" in
		''|*[!0-9]*) echo "shard-entrypoint.sh: set TWIN_SHARD_INDEX (host name '$HOSTNAME' ends in no ordinal)" >&2; exit 2 ;;
	esac
	index=$((ordinal + 1))
fi
if [ "$index" -lt 1 ] || [ "$index" -gt "$count" ]; then
	echo "shard-entrypoint.sh: TWIN_SHARD_INDEX $index is outside 1..$count (TWIN_SHARD_COUNT)" >&2
	exit 2
fi
first=$(( ((index - 1) * slots + count - 1) / count ))
last=$(( (index * slots + count - 1) / count - 1 ))

write_conf() {
	cat <<CONF
# written by shard-entrypoint.sh: shard $index of $count, slots $first-$last of $slots
per_listener_settings false
allow_anonymous true
listener 1883 0.0.0.0
set_tcp_nodelay true
max_queued_messages 100000
log_dest stdout
log_type error
log_type warning
log_type notice
log_type information
plugin /usr/lib/mosquitto/mosquitto_twin.so
plugin_opt_db_path /var/lib/mosquitto/twin
plugin_opt_cluster_shard shard$index
plugin_opt_cluster_slots $first-$last
plugin_opt_cluster_slot_count $slots
plugin_opt_cluster_nats $nats
plugin_opt_cluster_events on
plugin_opt_cluster_events_replicas $replicas
CONF
}

if [ "${1:-}" = "--print" ]; then
	write_conf
	exit 0
fi
write_conf >"$conf"
exec stdbuf -oL mosquitto -c "$conf"
