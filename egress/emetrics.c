#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/certcache.h"
#include "common/metrics.h"
#include "common/scan.h"
#include "egress/safelist.h"
#include "egress/egress.h"
#include "egress/emetrics.h"
#include "egress/refuse.h"

struct eg_metric_slots eg_m;

/* Rules of the table, then known_secrets and entropy. */
#define EG_M_RULES	128
static int	 eg_m_dlp[EG_M_RULES + 2][EG_DA_COUNT];
static char	*eg_m_dlp_labels[EG_M_RULES + 2][EG_DA_COUNT];

/* Written once by eg_metrics_init(), before workers run. */
static char eg_metric_labels[EG_MAX_REASONS][3][96];

/* Scrape time: the shared cert cache keeps its own counters. */
static void
eg_metrics_scrape(void)
{
	struct cm_certcache_stats st;

	if (eg_g == NULL || eg_g->certs == NULL)
		return;
	cm_certcache_stats(eg_g->certs, &st);
	cm_metric_set(eg_m.cert_hit, (int64_t)st.hits);
	cm_metric_set(eg_m.cert_miss, (int64_t)st.misses);
	cm_metric_set(eg_m.cert_entries, (int64_t)st.entries);
	cm_metric_set(eg_m.safelist, (int64_t)eg_safelist_count());
}

static void
eg_metrics_dlp_init(void)
{
	static const char *const act[EG_DA_COUNT] = { "block", "redact",
	    "hold", "warn" };
	static const char help[] = "Outbound DLP hits.";
	size_t	 n = cm_scan_nrules(), i, a;
	char	 buf[200];

	if (n > EG_M_RULES)
		n = EG_M_RULES;
	for (i = 0; i < n + 2; i++)
		for (a = 0; a < EG_DA_COUNT; a++) {
			const char *det = i < n ? "token_patterns" : i == n ?
			    "known_secrets" : "entropy";
			const char *rule = i < n ? cm_scan_rule_id(i) : i == n ?
			    "known-secret" : "entropy";

			(void)snprintf(buf, sizeof(buf), "detector=\"%s\","
			    "rule=\"%s\",direction=\"up\",action=\"%s\"",
			    det, rule, act[a]);
			eg_m_dlp_labels[i][a] = strdup(buf);
			eg_m_dlp[i][a] = eg_m_dlp_labels[i][a] == NULL ? -1 :
			    cm_metric_register("bb_egress_dlp_hits_total",
			    eg_m_dlp_labels[i][a], CM_METRIC_COUNTER, help);
		}
	for (; i < EG_M_RULES + 2; i++)
		for (a = 0; a < EG_DA_COUNT; a++)
			eg_m_dlp[i][a] = -1;
}

void
eg_metrics_dlp_hit(struct eg_worker *ew, int rule_idx, unsigned detector,
    enum eg_dlp_action_m action)
{
	size_t	 n = cm_scan_nrules() > EG_M_RULES ? EG_M_RULES :
		    cm_scan_nrules();
	size_t	 i;

	if (rule_idx >= 0 && (size_t)rule_idx < n)
		i = (size_t)rule_idx;
	else
		i = detector == CM_SCAN_ENTROPY ? n + 1 : n;
	cm_metric_add(ew->w, eg_m_dlp[i][action], 1);
}

void
eg_metrics_injection(struct eg_worker *ew, int block)
{
	cm_metric_add(ew->w, block ? eg_m.injection_block :
	    eg_m.injection_warn, 1);
}

void
eg_metrics_init(void)
{
	static const int64_t bounds_ms[] = { 5, 10, 25, 50, 100, 250, 500,
	    1000, 2500, 5000, 10000, 30000, 60000 };

	static const char req[] = "bb_egress_requests_total";
	static const char reqh[] = "Egress requests by decision and reason.";
	static const char screq[] = "bb_sidecar_requests_total";
	static const char screqh[] = "Requests by service and outcome.";
	static const char scref[] = "bb_sidecar_refusals_total";
	static const char screfh[] = "Refusals by service and reason.";
	const char	*reason;
	size_t		 i;
	int		 status;

	eg_m.conns_agent = cm_metric_register("bb_egress_connections_active",
	    "side=\"agent\"", CM_METRIC_GAUGE, "Open egress connections.");
	eg_m.sc_conns = cm_metric_register("bb_sidecar_connections_active",
	    "service=\"egress\"", CM_METRIC_GAUGE,
	    "Open connections by service.");
	eg_m.tunnels = cm_metric_register("bb_egress_tunnels_active", "",
	    CM_METRIC_GAUGE, "Bumped CONNECT tunnels open.");
	eg_m.websockets = cm_metric_register("bb_egress_websockets_active", "",
	    CM_METRIC_GAUGE, "WebSockets open.");
	eg_m.forwarded = cm_metric_register(req,
	    "decision=\"forwarded\",reason=\"none\"", CM_METRIC_COUNTER, reqh);
	eg_m.local = cm_metric_register(req,
	    "decision=\"local\",reason=\"none\"", CM_METRIC_COUNTER, reqh);
	eg_m.sc_forwarded = cm_metric_register(screq,
	    "service=\"egress\",outcome=\"forwarded\"", CM_METRIC_COUNTER,
	    screqh);
	eg_m.sc_local = cm_metric_register(screq,
	    "service=\"egress\",outcome=\"local\"", CM_METRIC_COUNTER, screqh);
	for (i = 0; i < EG_MAX_REASONS &&
	    (reason = eg_refusal_reason_at(i, &status)) != NULL; i++) {
		const char *decision = status >= 500 ? "error" : "blocked";

		(void)snprintf(eg_metric_labels[i][0],
		    sizeof(eg_metric_labels[i][0]),
		    "decision=\"%s\",reason=\"%s\"", decision, reason);
		(void)snprintf(eg_metric_labels[i][1],
		    sizeof(eg_metric_labels[i][1]),
		    "service=\"egress\",outcome=\"%s\"", decision);
		(void)snprintf(eg_metric_labels[i][2],
		    sizeof(eg_metric_labels[i][2]),
		    "service=\"egress\",reason=\"%s\"", reason);
		eg_m.refused[i] = cm_metric_register(req,
		    eg_metric_labels[i][0], CM_METRIC_COUNTER, reqh);
		eg_m.sc_refused[i] = cm_metric_register(screq,
		    eg_metric_labels[i][1], CM_METRIC_COUNTER, screqh);
		eg_m.sc_refusal_reason[i] = cm_metric_register(scref,
		    eg_metric_labels[i][2], CM_METRIC_COUNTER, screfh);
	}
	eg_m.bytes_up = cm_metric_register("bb_egress_bytes_total",
	    "direction=\"up\"", CM_METRIC_COUNTER, "Body bytes relayed.");
	eg_m.bytes_down = cm_metric_register("bb_egress_bytes_total",
	    "direction=\"down\"", CM_METRIC_COUNTER, "Body bytes relayed.");
	eg_m.routes = cm_metric_register("bb_egress_routes", "",
	    CM_METRIC_GAUGE, "Routes in the serving policy.");
	eg_m.generation = cm_metric_register("bb_egress_route_generation", "",
	    CM_METRIC_GAUGE, "Config generation of the serving routes.");
	eg_m.reload_ok = cm_metric_register("bb_egress_reloads_total",
	    "result=\"ok\"", CM_METRIC_COUNTER, "Egress policy loads.");
	eg_m.reload_error = cm_metric_register("bb_egress_reloads_total",
	    "result=\"error\"", CM_METRIC_COUNTER, "Egress policy loads.");
	eg_m.cert_hit = cm_metric_register("bb_egress_cert_cache_total",
	    "result=\"hit\"", CM_METRIC_COUNTER, "Leaf certificate lookups.");
	eg_m.cert_miss = cm_metric_register("bb_egress_cert_cache_total",
	    "result=\"miss\"", CM_METRIC_COUNTER, "Leaf certificate lookups.");
	eg_m.cert_entries = cm_metric_register("bb_egress_cert_cache_entries",
	    "", CM_METRIC_GAUGE, "Leaf certificates cached.");
	eg_m.duration = cm_metric_register_histogram(
	    "bb_egress_request_duration_seconds",
	    "First byte in to last byte out.", bounds_ms,
	    sizeof(bounds_ms) / sizeof(bounds_ms[0]));
	eg_m.injection_warn = cm_metric_register("bb_egress_injection_total",
	    "severity=\"warn\"", CM_METRIC_COUNTER, "Inbound detections.");
	eg_m.injection_block = cm_metric_register("bb_egress_injection_total",
	    "severity=\"block\"", CM_METRIC_COUNTER, "Inbound detections.");
	eg_m.safelist = cm_metric_register("bb_egress_safelist_entries", "",
	    CM_METRIC_GAUGE, "Values an operator allowed, per host.");
	eg_metrics_dlp_init();
	(void)cm_metrics_on_scrape(eg_metrics_scrape);
}

void
eg_metrics_refusal(struct eg_worker *ew, const char *reason)
{
	const char	*r;
	size_t		 i;

	for (i = 0; (r = eg_refusal_reason_at(i, NULL)) != NULL &&
	    i < EG_MAX_REASONS; i++)
		if (strcmp(r, reason) == 0) {
			cm_metric_add(ew != NULL ? ew->w : NULL, eg_m.refused[i], 1);
			cm_metric_add(ew != NULL ? ew->w : NULL,
			    eg_m.sc_refused[i], 1);
			cm_metric_add(ew != NULL ? ew->w : NULL,
			    eg_m.sc_refusal_reason[i], 1);
			return;
		}
}

void
eg_metrics_forwarded(struct eg_worker *ew)
{
	cm_metric_add(ew->w, eg_m.forwarded, 1);
	cm_metric_add(ew->w, eg_m.sc_forwarded, 1);
}

void
eg_metrics_local(struct eg_worker *ew)
{
	cm_metric_add(ew->w, eg_m.local, 1);
	cm_metric_add(ew->w, eg_m.sc_local, 1);
}

void
eg_metrics_bytes(struct eg_worker *ew, uint64_t up, uint64_t down)
{
	cm_metric_add(ew->w, eg_m.bytes_up, (int64_t)up);
	cm_metric_add(ew->w, eg_m.bytes_down, (int64_t)down);
}

void
eg_metrics_duration(struct eg_worker *ew, uint64_t ms)
{
	cm_metric_observe_ms(ew->w, eg_m.duration, (int64_t)ms);
}
