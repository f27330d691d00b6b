/* metrics.h - the plugin's counters, written from both threads with relaxed atomics and read as a
 * snapshot for $twin/stats. */
#ifndef TWIN_METRICS_H
#define TWIN_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#define TWIN_METRICS(X)                                                                            \
	X(telemetry_received)                                                                          \
	X(telemetry_applied)                                                                           \
	X(telemetry_unchanged)                                                                         \
	X(telemetry_merged)                                                                            \
	X(telemetry_invalid)                                                                           \
	X(telemetry_dropped)                                                                           \
	X(telemetry_rate_limited)                                                                      \
	X(requests)                                                                                    \
	X(requests_failed)                                                                             \
	X(requests_rate_limited)                                                                       \
	X(requests_get)                                                                                \
	X(requests_update)                                                                             \
	X(requests_delete)                                                                             \
	X(requests_history)                                                                            \
	X(requests_search)                                                                             \
	X(requests_stats)                                                                              \
	X(requests_ack)                                                                                \
	X(requests_model)                                                                              \
	X(answers_200)                                                                                 \
	X(answers_400)                                                                                 \
	X(answers_404)                                                                                 \
	X(answers_409)                                                                                 \
	X(answers_413)                                                                                 \
	X(answers_429)                                                                                 \
	X(answers_500)                                                                                 \
	X(answers_503)                                                                                 \
	X(answers_507)                                                                                 \
	X(twins_refused)                                                                               \
	X(publishes_refused)                                                                           \
	X(commits)                                                                                     \
	X(commit_failures)                                                                             \
	X(store_full)                                                                                  \
	X(model_invalid)                                                                               \
	X(model_refused)                                                                               \
	X(model_missing)                                                                               \
	X(alarms_raised)                                                                               \
	X(alarms_cleared)                                                                              \
	X(alarms_acked)                                                                                \
	X(commit_us)

struct twin_metrics {
#define TWIN_METRIC_FIELD(name) _Atomic uint64_t name;
	TWIN_METRICS(TWIN_METRIC_FIELD)
#undef TWIN_METRIC_FIELD
};

#define twin_metric_add(m, name, n) atomic_fetch_add_explicit(&(m)->name, (n), memory_order_relaxed)
#define twin_metric_get(m, name)    atomic_load_explicit(&(m)->name, memory_order_relaxed)

#endif
