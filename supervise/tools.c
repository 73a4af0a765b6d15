/*
 * The four tools as tools/list shows them (spec/supervise.md §4): the
 * descriptions of §4.6 verbatim, input and output schemas, titles and
 * annotations by revision (§3.3).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/bounds.h"
#include "supervise/sv.h"

#define SV_DESC_LIST							\
	"List the network routes this bottle may use (host, request "	\
	"matches, auth scheme, token slot name, git fetch, DLP). Token " \
	"values are never shown. Read-only; check here before using "	\
	"egress-block."
#define SV_DESC_EGRESS							\
	"Ask the human operator of this bottle to allow HTTP(S) access to " \
	"one host, or to widen an existing route (paths, methods, git "	\
	"fetch). Use it only when the egress proxy refused a request your " \
	"task needs. A person reviews every request and nothing is allowed " \
	"until they approve. Waits up to %d seconds, then returns status " \
	"pending with an id: call check-proposal later; repeating the "	\
	"identical request re-attaches to it. Proposed auth, DLP and other " \
	"route settings beyond paths, methods and git fetch take effect " \
	"only if the operator sets them. Explain precisely why the task " \
	"needs access."
#define SV_DESC_CAPABILITY						\
	"Ask the human operator for a capability this bottle's image lacks " \
	"(package, tool, runtime) as a Dockerfile or a description. A "	\
	"person reviews it. Approval usually rebuilds and restarts the " \
	"bottle: commit and push your work through the git gate first; " \
	"this call may never return. Waits up to %d seconds, then returns " \
	"status pending with an id for check-proposal."
#define SV_DESC_CHECK							\
	"Return the operator's current decision on your egress-block or " \
	"capability-block proposal: pending, approved, modified (with what " \
	"was granted) or rejected, with notes. Does not wait."

#define SV_ID_PATTERN	"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$"

static const char *const sv_tool_names[] = {
	"list-egress-routes", "egress-block", "capability-block",
	"check-proposal", NULL
};

int
sv_tools_known(const char *name)
{
	size_t	 i;

	for (i = 0; sv_tool_names[i] != NULL; i++)
		if (strcmp(name, sv_tool_names[i]) == 0)
			return (1);
	return (0);
}

static json_t *
sv_tools_decision_schema(void)
{
	return (json_pack("{s:s,s:{s:{s:s},s:{s:s,s:[s,s]},"
	    "s:{s:s,s:[s,s,s,s]},s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s},"
	    "s:{s:s}},s:[s,s,s,s,s]}",
	    "type", "object", "properties",
	    "id", "type", "string",
	    "kind", "type", "string", "enum", "egress-block",
	    "capability-block",
	    "status", "type", "string", "enum", "pending", "approved",
	    "modified", "rejected",
	    "notes", "type", "string",
	    "message", "type", "string",
	    "created_at", "type", "string",
	    "decided_at", "type", "string",
	    "applied", "type", "boolean",
	    "payload", "type", "object",
	    "required", "id", "kind", "status", "notes", "message"));
}

static json_t *
sv_tools_egress_input(void)
{
	json_t	*paths, *headers, *matches, *props;

	paths = json_pack("{s:s,s:{s:s,s:b,s:[s],s:{s:{s:s,s:[s,s,s]},"
	    "s:{s:s}}}}", "type", "array", "items", "type", "object",
	    "additionalProperties", 0, "required", "value", "properties",
	    "type", "type", "string", "enum", "exact", "prefix", "regex",
	    "value", "type", "string");
	headers = json_pack("{s:s,s:{s:s,s:b,s:[s,s],s:{s:{s:s},s:{s:s},"
	    "s:{s:s,s:[s,s]}}}}", "type", "array", "items", "type", "object",
	    "additionalProperties", 0, "required", "name", "value",
	    "properties", "name", "type", "string", "value", "type", "string",
	    "type", "type", "string", "enum", "exact", "regex");
	matches = json_pack("{s:s,s:i,s:{s:s,s:b,s:{s:o,s:{s:s,s:{s:s}},"
	    "s:o}}}", "type", "array", "maxItems", SV_MAX_MATCHES, "items",
	    "type", "object", "additionalProperties", 0, "properties",
	    "paths", paths, "methods", "type", "array", "items", "type",
	    "string", "headers", headers);
	props = json_pack("{s:{s:s,s:s},s:o,s:{s:s,s:{s:s}},"
	    "s:{s:s,s:b,s:{s:{s:s}}},s:{s:s},"
	    "s:{s:s,s:b,s:{s:{s:s,s:[s,s]},s:{s:s}}},"
	    "s:{s:s,s:[s,s]},s:{s:s},"
	    "s:{s:s,s:{s:s,s:i,s:i}},s:{s:s,s:i},s:{s:s,s:[s,s]},"
	    "s:{s:s},s:{s:s,s:i,s:i}}",
	    "host", "type", "string", "description",
	    "one host name or IP literal: no scheme, port, path or wildcard",
	    "matches", matches,
	    "path_allowlist", "type", "array", "items", "type", "string",
	    "git", "type", "object", "additionalProperties", 0, "properties",
	    "fetch", "type", "boolean",
	    "dlp", "type", "object",
	    "auth", "type", "object", "additionalProperties", 0,
	    "properties", "scheme", "type", "string", "enum", "Bearer",
	    "token", "token_ref", "type", "string",
	    "auth_scheme", "type", "string", "enum", "Bearer", "token",
	    "token_env", "type", "string",
	    "ports", "type", "array", "items", "type", "integer", "minimum",
	    1, "maximum", 65535,
	    "max_body_bytes", "type", "integer", "minimum", 1,
	    "on_oversize", "type", "string", "enum", "block", "noscan",
	    "allow_private", "type", "boolean",
	    "justification", "type", "string", "minLength", 1, "maxLength",
	    SV_MAX_JUSTIFICATION_CHARS);
	return (json_pack("{s:s,s:o,s:[s,s],s:b}", "type", "object",
	    "properties", props, "required", "host", "justification",
	    "additionalProperties", 0));
}

static json_t *
sv_tools_one(enum sv_rev rev, const char *name, const char *title,
    const char *desc, json_t *input, json_t *output, int read_only)
{
	json_t	*t;

	t = json_pack("{s:s,s:s,s:o}", "name", name, "description", desc,
	    "inputSchema", input);
	if (rev >= SV_REV_2025_06_18) {
		json_object_set_new(t, "title", json_string(title));
		json_object_set_new(t, "outputSchema", output);
	} else
		json_decref(output);
	if (rev >= SV_REV_2025_03_26) {
		json_t *a = json_pack("{s:b,s:b}", "readOnlyHint", read_only,
		    "openWorldHint", 0);

		if (!read_only)
			json_object_set_new(a, "destructiveHint",
			    json_false());
		json_object_set_new(t, "annotations", a);
	}
	return (t);
}

json_t *
sv_tools_list(enum sv_rev rev, int wait_s)
{
	char	 egress[2048], cap[1024];
	json_t	*tools;

	(void)snprintf(egress, sizeof(egress), SV_DESC_EGRESS, wait_s);
	(void)snprintf(cap, sizeof(cap), SV_DESC_CAPABILITY, wait_s);
	tools = json_array();
	json_array_append_new(tools, sv_tools_one(rev, "list-egress-routes",
	    "List egress routes", SV_DESC_LIST,
	    json_pack("{s:s,s:{},s:b}", "type", "object", "properties",
	    "additionalProperties", 0),
	    json_pack("{s:s,s:{s:{s:s,s:{s:s}}},s:[s]}", "type", "object",
	    "properties", "routes", "type", "array", "items", "type", "object",
	    "required", "routes"), 1));
	json_array_append_new(tools, sv_tools_one(rev, "egress-block",
	    "Request egress access", egress, sv_tools_egress_input(),
	    sv_tools_decision_schema(), 0));
	json_array_append_new(tools, sv_tools_one(rev, "capability-block",
	    "Request a capability", cap,
	    json_pack("{s:s,s:{s:{s:s,s:i},s:{s:s,s:i},s:{s:s,s:i,s:i}},"
	    "s:[s],s:b}", "type", "object", "properties",
	    "dockerfile", "type", "string", "maxLength",
	    SV_MAX_DOCKERFILE_BYTES,
	    "description", "type", "string", "maxLength",
	    SV_MAX_DESCRIPTION_CHARS,
	    "justification", "type", "string", "minLength", 1, "maxLength",
	    SV_MAX_JUSTIFICATION_CHARS,
	    "required", "justification", "additionalProperties", 0),
	    sv_tools_decision_schema(), 0));
	json_array_append_new(tools, sv_tools_one(rev, "check-proposal",
	    "Check a proposal", SV_DESC_CHECK,
	    json_pack("{s:s,s:{s:{s:s,s:s}},s:[s],s:b}", "type", "object",
	    "properties", "id", "type", "string", "pattern", SV_ID_PATTERN,
	    "required", "id", "additionalProperties", 0),
	    sv_tools_decision_schema(), 1));
	return (json_pack("{s:o}", "tools", tools));
}
