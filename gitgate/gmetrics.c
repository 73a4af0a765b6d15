/*
 * gitgate's metrics (spec/gitgate.md §14).  Labels take bounded values
 * only: the families labelled by repo are registered per declared repo
 * when first used (a repo added by a reload gets its series then), the
 * others once at start.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/metrics.h"
#include "gitgate/gg.h"

struct gg_metrics	 gg_m;

static const struct {
	const char	*family;
	const char	*help;
} gg_repo_families[] = {
	[GG_MF_FETCHES] = { "bb_gitgate_fetches_total",
	    "Fetches served, by repo, result and path." },
	[GG_MF_PUSHES] = { "bb_gitgate_pushes_total",
	    "Pushes by repo, result and reason." },
	[GG_MF_REFRESH] = { "bb_gitgate_refresh_total",
	    "Mirror refreshes by repo and result." },
	[GG_MF_REFRESH_SHARED] = { "bb_gitgate_refresh_shared_total",
	    "Requests that took a refresh already running, by repo." },
	[GG_MF_BYTES] = { "bb_gitgate_bytes_total",
	    "Bytes through the gate, by repo and direction." },
};

const char *const gg_mdir_names[GG_MD_COUNT] = { "client_in", "client_out",
    "upstream_in", "upstream_out" };

/* Every series of a repo that has no free label value, at zero. */
void
gg_metrics_repo_init(const char *repo)
{
	static const char *const res[] = { "ok", "failed" };
	static const char *const paths[] = { "fast", "packbuilder" };
	size_t	 i, k;

	for (i = 0; i < 2; i++) {
		for (k = 0; k < 2; k++)
			(void)gg_metric_repo(GG_MF_FETCHES, repo,
			    "result=\"%s\",path=\"%s\"", res[i], paths[k]);
		(void)gg_metric_repo(GG_MF_REFRESH, repo, "result=\"%s\"",
		    res[i]);
	}
	(void)gg_metric_repo(GG_MF_REFRESH_SHARED, repo, NULL);
	for (i = 0; i < GG_MD_COUNT; i++)
		(void)gg_metric_repo(GG_MF_BYTES, repo, "dir=\"%s\"",
		    gg_mdir_names[i]);
}

int
gg_metric_repo(enum gg_mfamily f, const char *repo, const char *fmt, ...)
{
	char	 labels[256], rest[128];
	va_list	 ap;
	int	 n;

	rest[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		(void)vsnprintf(rest, sizeof(rest), fmt, ap);
		va_end(ap);
	}
	/* Repo names are declared and match [A-Za-z0-9._-]+: no escaping. */
	n = snprintf(labels, sizeof(labels), "repo=\"%s\"%s%s", repo,
	    rest[0] != '\0' ? "," : "", rest);
	if (n < 0 || (size_t)n >= sizeof(labels))
		return (-1);
	return (cm_metric_register(gg_repo_families[f].family, labels,
	    CM_METRIC_COUNTER, gg_repo_families[f].help));
}

/*
 * bb_gitgate_findings_total{rule,suppressed}: a series per rule seen, made
 * on first use.  Rule ids are the scan engine's (the built-in table, or
 * known-secret: and a variable name), a bounded set; a byte outside
 * [A-Za-z0-9._:-] is written as '_' so a label never needs escaping.
 */
int
gg_metric_finding(const char *rule, int suppressed)
{
	char	 labels[160], r[96];
	size_t	 i;

	for (i = 0; rule[i] != '\0' && i < sizeof(r) - 1; i++)
		r[i] = isalnum((unsigned char)rule[i]) ||
		    strchr("._:-", rule[i]) != NULL ? rule[i] : '_';
	r[i] = '\0';
	(void)snprintf(labels, sizeof(labels), "rule=\"%s\",suppressed=\"%d\"",
	    r, suppressed ? 1 : 0);
	return (cm_metric_register("bb_gitgate_findings_total", labels,
	    CM_METRIC_COUNTER, "Push scan findings."));
}

void
gg_metrics_init(void)
{
	static const char conn[] = "bb_gitgate_connections";
	static const char skip[] = "bb_gitgate_scan_skipped_total";
	static const char appr[] = "bb_gitgate_approvals_total";
	static const char *const outcomes[] = { "outcome=\"approved\"",
	    "outcome=\"rejected\"", "outcome=\"timeout\"",
	    "outcome=\"unavailable\"", "outcome=\"withdrawn\"" };
	int	 i;

	gg_m.conns_git = cm_metric_register(conn, "front=\"git\"",
	    CM_METRIC_GAUGE, "Open gate connections by front.");
	gg_m.conns_http = cm_metric_register(conn, "front=\"http\"",
	    CM_METRIC_GAUGE, "Open gate connections by front.");
	gg_m.scan_bytes = cm_metric_register("bb_gitgate_scan_bytes_total", "",
	    CM_METRIC_COUNTER, "Bytes the push scan read.");
	gg_m.scan_skip_binary = cm_metric_register(skip, "reason=\"binary\"",
	    CM_METRIC_COUNTER, "Files the push scan skipped.");
	gg_m.scan_skip_size = cm_metric_register(skip, "reason=\"size\"",
	    CM_METRIC_COUNTER, "Files the push scan skipped.");
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
