/*
 * gitgate's metrics (spec/gitgate.md §14).  Labels take bounded values
 * only; per-repo labels would need registering at every reload, so the
 * series are process-wide (the logs carry the repo).
 */
#include "config.h"

#include <stddef.h>

#include "common/metrics.h"
#include "gitgate/gg.h"

struct gg_metrics	 gg_m;

void
gg_metrics_init(void)
{
	static const char conn[] = "bb_gitgate_connections";
	static const char fetch[] = "bb_gitgate_fetches_total";
	static const char push[] = "bb_gitgate_pushes_total";
	static const char refresh[] = "bb_gitgate_refresh_total";
	static const char skip[] = "bb_gitgate_scan_skipped_total";
	static const char find[] = "bb_gitgate_findings_total";
	static const char bytes[] = "bb_gitgate_bytes_total";
	static const char appr[] = "bb_gitgate_approvals_total";
	static const char *const outcomes[] = { "outcome=\"approved\"",
	    "outcome=\"rejected\"", "outcome=\"timeout\"",
	    "outcome=\"unavailable\"", "outcome=\"withdrawn\"" };
	int	 i;

	gg_m.conns_git = cm_metric_register(conn, "front=\"git\"",
	    CM_METRIC_GAUGE, "Open gate connections by front.");
	gg_m.conns_http = cm_metric_register(conn, "front=\"http\"",
	    CM_METRIC_GAUGE, "Open gate connections by front.");
	gg_m.fetch_ok = cm_metric_register(fetch, "result=\"ok\"",
	    CM_METRIC_COUNTER, "Fetches served, by result.");
	gg_m.fetch_failed = cm_metric_register(fetch, "result=\"failed\"",
	    CM_METRIC_COUNTER, "Fetches served, by result.");
	gg_m.fetch_fast = cm_metric_register("bb_gitgate_fetches_fast_total",
	    "", CM_METRIC_COUNTER, "Fetches served from the stored pack.");
	gg_m.push_accepted = cm_metric_register(push, "result=\"accepted\"",
	    CM_METRIC_COUNTER, "Pushes by result.");
	gg_m.push_rejected = cm_metric_register(push, "result=\"rejected\"",
	    CM_METRIC_COUNTER, "Pushes by result.");
	gg_m.push_partial = cm_metric_register(push, "result=\"partial\"",
	    CM_METRIC_COUNTER, "Pushes by result.");
	gg_m.refresh_ok = cm_metric_register(refresh, "result=\"ok\"",
	    CM_METRIC_COUNTER, "Mirror refreshes by result.");
	gg_m.refresh_failed = cm_metric_register(refresh, "result=\"failed\"",
	    CM_METRIC_COUNTER, "Mirror refreshes by result.");
	gg_m.refresh_shared = cm_metric_register(
	    "bb_gitgate_refresh_shared_total", "", CM_METRIC_COUNTER,
	    "Requests that took a refresh already running.");
	gg_m.scan_bytes = cm_metric_register("bb_gitgate_scan_bytes_total", "",
	    CM_METRIC_COUNTER, "Bytes the push scan read.");
	gg_m.scan_skip_binary = cm_metric_register(skip, "reason=\"binary\"",
	    CM_METRIC_COUNTER, "Files the push scan skipped.");
	gg_m.scan_skip_size = cm_metric_register(skip, "reason=\"size\"",
	    CM_METRIC_COUNTER, "Files the push scan skipped.");
	gg_m.findings = cm_metric_register(find, "suppressed=\"0\"",
	    CM_METRIC_COUNTER, "Push scan findings.");
	gg_m.findings_suppressed = cm_metric_register(find,
	    "suppressed=\"1\"", CM_METRIC_COUNTER, "Push scan findings.");
	gg_m.bytes_in = cm_metric_register(bytes, "dir=\"client_in\"",
	    CM_METRIC_COUNTER, "Bytes through the gate.");
	gg_m.bytes_out = cm_metric_register(bytes, "dir=\"client_out\"",
	    CM_METRIC_COUNTER, "Bytes through the gate.");
	for (i = 0; i < 5; i++)
		gg_m.approvals[i] = cm_metric_register(appr, outcomes[i],
		    CM_METRIC_COUNTER, "Operator decisions on held pushes.");
	gg_m.held = cm_metric_register("bb_gitgate_pushes_held", "",
	    CM_METRIC_GAUGE, "Pushes waiting for an operator.");
	gg_m.requests = cm_metric_register("bb_sidecar_requests_total",
	    "service=\"gitgate\",outcome=\"served\"", CM_METRIC_COUNTER,
	    "Requests by service and outcome.");
	gg_m.refusals = cm_metric_register("bb_sidecar_refusals_total",
	    "service=\"gitgate\",reason=\"refused\"", CM_METRIC_COUNTER,
	    "Refusals by service and reason.");
}
