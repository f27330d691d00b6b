#!/usr/bin/env bash
# cluster/local.sh - a 3-shard fleet on one machine, from Debian packages (mosquitto, haproxy, nats-server)
# and a -DTWIN_CLUSTER=ON build of the plugin:
#   up --base-port P [--plugin FILE] [--dir DIR]   starts, on 127.0.0.1:
#     HAProxy on P (MQTT: routes each CONNECT by crc32(client id) mod 1024 through DIR/slots.map),
#     shards 1..3 (Mosquitto + plugin, own LMDB in DIR/shardN) on P+1..P+3, owning slots
#     0-341, 342-682, 683-1023, and NATS nodes n1..n3 (JetStream, one cluster) on P+11..P+13
#     (routes P+21..P+23, monitoring P+31..P+33); prints `ready mqtt=127.0.0.1:P` once all answer.
#     The shards publish their change events to JetStream (plugin_opt_cluster_events on); the first shard
#     to reach JetStream creates the stream, TWIN_EVENTS, with 3 replicas (Debian has no nats CLI).
#     --conf FILE adds FILE's lines to every shard's configuration (e.g. plugin_opt_search_scope).
#   restart NAME [--dir DIR]   starts one of them (shard1..3, n1..3, haproxy) again from its configuration
#     in DIR, after a crash or a kill -9 (a running one is stopped first), and waits until it answers.
#   down [--dir DIR]   stops exactly what `up` and `restart` started (DIR/*.pid), then leaves DIR for the logs.
# DIR defaults to $TWIN_CLUSTER_DIR, else /tmp/mosquitto-twin-cluster. The plugin defaults to $TWIN_PLUGIN,
# else build/mosquitto_twin.so under the repository.
set -euo pipefail

SLOTS=1024
SHARD_SLOTS=("0-341" "342-682" "683-1023")
here="$(cd "$(dirname "$0")" && pwd)"
dir="${TWIN_CLUSTER_DIR:-/tmp/mosquitto-twin-cluster}"
plugin="${TWIN_PLUGIN:-$here/../build/mosquitto_twin.so}"
base=""
extra=""

die() { echo "local.sh: $*" >&2; exit 1; }

cmd="${1:-}"
[ $# -gt 0 ] && shift
name=""
if [ "$cmd" = restart ] && [ $# -gt 0 ]; then name="$1"; shift; fi
while [ $# -gt 0 ]; do
	case "$1" in
		--base-port) base="$2"; shift 2 ;;
		--plugin) plugin="$2"; shift 2 ;;
		--dir) dir="$2"; shift 2 ;;
		--conf) extra="$2"; shift 2 ;;
		*) die "unknown argument '$1' (usage: local.sh up --base-port P [--plugin FILE] [--dir DIR] [--conf FILE] | restart NAME [--dir DIR] | down [--dir DIR])" ;;
	esac
done

mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
haproxy_bin="$(command -v haproxy || echo /usr/sbin/haproxy)"
nats_bin="$(command -v nats-server || echo /usr/sbin/nats-server)"

# start NAME CMD...: runs CMD in its own session, logging to DIR/NAME.log, its pid in DIR/NAME.pid
start() {
	local name="$1"; shift
	setsid "$@" >>"$dir/$name.log" 2>&1 </dev/null &
	echo $! >"$dir/$name.pid"
}

# wait_port PORT WHAT: until 127.0.0.1:PORT accepts connections (20 s)
wait_port() {
	for _ in $(seq 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	die "$2 does not answer on 127.0.0.1:$1 (see $dir/*.log)"
}

nats_conf() { # n INDEX
	local i="$1" routes=""
	for j in 1 2 3; do routes+="nats-route://127.0.0.1:$((base + 20 + j)), "; done
	cat <<-CONF
	server_name: n$i
	listen: 127.0.0.1:$((base + 10 + i))
	http: 127.0.0.1:$((base + 30 + i))
	jetstream { store_dir: "$dir/n$i", max_memory_store: 256MB, max_file_store: 1GB }
	cluster { name: twin, listen: 127.0.0.1:$((base + 20 + i)), routes: [${routes%, }] }
	CONF
}

shard_conf() { # INDEX
	local i="$1"
	cat <<-CONF
	per_listener_settings false
	allow_anonymous true
	user $(id -un)
	listener $((base + i)) 127.0.0.1
	log_dest stdout
	log_type error
	log_type warning
	log_type notice
	log_type information
	plugin $plugin
	plugin_opt_db_path $dir/shard$i
	plugin_opt_cluster_shard shard$i
	plugin_opt_cluster_slots ${SHARD_SLOTS[$((i - 1))]}
	plugin_opt_cluster_slot_count $SLOTS
	plugin_opt_cluster_nats nats://127.0.0.1:$((base + 11)),nats://127.0.0.1:$((base + 12)),nats://127.0.0.1:$((base + 13))
	plugin_opt_cluster_events on
	CONF
	if [ -n "$extra" ]; then cat "$extra"; fi
}

haproxy_conf() {
	cat <<-CONF
	global
	    stats socket $dir/haproxy.sock mode 600 level admin
	defaults
	    mode tcp
	    timeout connect 2s
	    timeout client 1h
	    timeout server 1h
	frontend mqtt
	    bind 127.0.0.1:$base
	    tcp-request inspect-delay 5s
	    tcp-request content reject unless { req.payload(0,0),mqtt_is_valid }
	    tcp-request content set-var(sess.cid) req.payload(0,0),mqtt_field_value(connect,client_identifier)
	    tcp-request content reject unless { var(sess.cid) -m found }
	    use_backend %[var(sess.cid),crc32,mod($SLOTS),map_int($dir/slots.map,no_shard)]
	    default_backend no_shard
	backend no_shard
	CONF
	for i in 1 2 3; do
		printf 'backend shard%d\n    server shard%d 127.0.0.1:%d\n' "$i" "$i" "$((base + i))"
	done
}

slots_map() { # slot -> shard, from SHARD_SLOTS
	for i in 1 2 3; do
		local range="${SHARD_SLOTS[$((i - 1))]}"
		for s in $(seq "${range%-*}" "${range#*-}"); do echo "$s shard$i"; done
	done
}

up() {
	[ -n "$base" ] || die "up needs --base-port P (P..P+33 must be free)"
	[ -f "$plugin" ] || die "no plugin at $plugin (build with -DTWIN_CLUSTER=ON, or pass --plugin)"
	for b in "$mosquitto_bin" "$haproxy_bin" "$nats_bin"; do
		[ -x "$b" ] || die "$b is missing: apt-get install mosquitto haproxy nats-server"
	done
	if ls "$dir"/*.pid >/dev/null 2>&1; then die "$dir has a running cluster: local.sh down first"; fi
	mkdir -p "$dir"
	trap 'down >/dev/null' ERR EXIT # a failed start stops what it started; `trap - EXIT` on success
	if [ -n "$extra" ]; then [ -f "$extra" ] || die "no file $extra (--conf)"; fi
	for i in 1 2 3; do
		mkdir -p "$dir/n$i" "$dir/shard$i"
		nats_conf "$i" >"$dir/n$i.conf"
		run "n$i" >/dev/null
	done
	for i in 1 2 3; do wait_port $((base + 10 + i)) "NATS n$i"; done
	for i in 1 2 3; do
		shard_conf "$i" >"$dir/shard$i.conf"
		run "shard$i" >/dev/null
	done
	[ -f "$dir/slots.map" ] || slots_map >"$dir/slots.map" # kept: slot moves (twinctl) rewrite it
	haproxy_conf >"$dir/haproxy.cfg"
	"$haproxy_bin" -c -q -f "$dir/haproxy.cfg" || die "HAProxy refuses $dir/haproxy.cfg"
	run haproxy >/dev/null
	for i in 1 2 3; do wait_port $((base + i)) "shard$i"; done
	wait_port "$base" HAProxy
	for i in 1 2 3; do # JetStream has a meta leader once every node says healthy
		for _ in $(seq 200); do
			curl -fs "http://127.0.0.1:$((base + 30 + i))/healthz" >/dev/null && break
			sleep 0.1
		done
		curl -fs "http://127.0.0.1:$((base + 30 + i))/healthz" >/dev/null || die "NATS n$i is not healthy"
	done
	# the shards have created the events stream (the first to reach JetStream does)
	for _ in $(seq 200); do
		curl -fs "http://127.0.0.1:$((base + 31))/jsz?streams=true" | grep -q '"name": *"TWIN_EVENTS"' && break
		sleep 0.1
	done
	curl -fs "http://127.0.0.1:$((base + 31))/jsz?streams=true" | grep -q '"name": *"TWIN_EVENTS"' ||
		die "no shard created the JetStream stream TWIN_EVENTS (see $dir/shard*.log)"
	# an MQTT CONNECT through HAProxy reaches a shard
	mosquitto_pub -h 127.0.0.1 -p "$base" -i local-sh-ready -t local-sh/ready -n -q 1 ||
		die "MQTT through HAProxy on 127.0.0.1:$base fails (see $dir/haproxy.log)"
	trap - ERR EXIT
	echo "ready mqtt=127.0.0.1:$base"
}

# run NAME: starts the process NAME from its configuration in DIR; prints the port it will answer on
run() {
	case "$1" in
		n[1-3]) start "$1" "$nats_bin" -c "$dir/$1.conf"
			sed -n 's/^listen: 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/$1.conf" ;;
		shard[1-3]) start "$1" stdbuf -oL "$mosquitto_bin" -c "$dir/$1.conf"
			sed -n 's/^listener \([0-9]*\) .*/\1/p' "$dir/$1.conf" ;;
		haproxy) start haproxy "$haproxy_bin" -db -f "$dir/haproxy.cfg"
			sed -n 's/^ *bind 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/haproxy.cfg" ;;
		*) die "restart what? shard1..3, n1..3 or haproxy, not '$1'" ;;
	esac
}

restart() {
	[ -n "$name" ] || die "usage: local.sh restart NAME [--dir DIR] (NAME: shard1..3, n1..3, haproxy)"
	local pid port
	if [ -f "$dir/$name.pid" ]; then
		pid="$(cat "$dir/$name.pid")"
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid"
			for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
		fi
	fi
	port="$(run "$name")"
	wait_port "$port" "$name"
	echo "restarted $name on 127.0.0.1:$port"
}

down() {
	local pids=() f pid
	for f in "$dir"/haproxy.pid "$dir"/shard*.pid "$dir"/n*.pid; do
		[ -f "$f" ] || continue
		pid="$(cat "$f")"
		if kill -0 "$pid" 2>/dev/null; then kill "$pid"; pids+=("$pid"); fi
		rm -f "$f"
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
	done
	echo "stopped ${#pids[@]} processes"
}

case "$cmd" in
	up) up ;;
	restart) restart ;;
	down) down ;;
	*) die "usage: local.sh up --base-port P [--plugin FILE] [--dir DIR] [--conf FILE] | restart NAME [--dir DIR] | down [--dir DIR]" ;;
esac
