/*
 * libFuzzer target for the strict YAML loader: parse, walk every node
 * through the schema helpers, free.  ASan/UBSan do the judging.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/yaml.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const yaml_fuzz_keys[] = { "host", "routes", NULL };
static const char *const yaml_fuzz_enum[] = { "a", "b", NULL };

/* Touches every field the type promises, so a bad tree shows up. */
static void
yaml_fuzz_walk(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *path)
{
	char		 sub[CM_Y_PATH_BYTES];
	const char	*s;
	long long	 v;
	size_t		 i;
	int		 b, e;

	(void)cm_y_type_name(n->type);
	switch (n->type) {
	case CM_Y_MAP:
		(void)cm_y_check_keys(cx, n, path, yaml_fuzz_keys);
		(void)cm_y_get(n, "host");
		for (i = 0; i < n->n; i++) {
			if (strlen(n->pairs[i].key->str) != n->pairs[i].key->len)
				__builtin_trap();
			cm_y_path_key(sub, sizeof(sub), path,
			    n->pairs[i].key->str);
			yaml_fuzz_walk(cx, n->pairs[i].val, sub);
		}
		break;
	case CM_Y_SEQ:
		for (i = 0; i < n->n; i++) {
			cm_y_path_idx(sub, sizeof(sub), path, i);
			yaml_fuzz_walk(cx, n->items[i], sub);
		}
		break;
	default:
		/* Refused nodes (yaml.h) may hold what strict ones cannot. */
		if (!n->invalid && strlen(n->str) != n->len)
			__builtin_trap();
		(void)cm_y_int(cx, n, path, 1, 65535, &v);
		(void)cm_y_bool(cx, n, path, &b);
		(void)cm_y_str(cx, n, path, &s);
		(void)cm_y_enum(cx, n, path, yaml_fuzz_enum, &e);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cm_cfg_ctx	 cx;
	struct cm_ynode			*root;

	memset(&cx, 0, sizeof(cx));
	cx.path = "fuzz.yaml";
	if ((root = cm_yaml_parse(&cx, (const char *)data, size)) != NULL) {
		yaml_fuzz_walk(&cx, root, NULL);
		cm_yaml_free(root);
	}
	return (0);
}
