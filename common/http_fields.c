/*
 * Ordered HTTP field lists: the fields of a parsed head or of chunked
 * trailers, and the fields a front builds for a message it writes.
 *
 * Every entry point that takes a caller's string checks it, so a list
 * only ever holds token names and CTL-free values; http_write.c relies on
 * that to write fields without looking at them again.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/http_int.h"

static int	 cm_http_fields_eq(const char *a, size_t alen, const char *b,
		    size_t blen);
static void	 cm_http_fields_trim(const char **s, size_t *len);
static int	 cm_http_fields_fill(struct cm_http_field *fl, const char *name,
		    size_t name_len, const char *value, size_t value_len);
static int	 cm_http_fields_check(const char *name, const char **value,
		    size_t *value_len);

/* ASCII case-insensitive equality; field names are never localised. */
static int
cm_http_fields_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t		 i;
	unsigned char	 x, y;

	if (alen != blen)
		return (0);
	for (i = 0; i < alen; i++) {
		x = (unsigned char)a[i];
		y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x = x - 'A' + 'a';
		if (y >= 'A' && y <= 'Z')
			y = y - 'A' + 'a';
		if (x != y)
			return (0);
	}
	return (1);
}

/* Strips OWS (SP and HTAB) from both ends. */
static void
cm_http_fields_trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

int
cm_http_fields_is(const struct cm_http_field *fl, const char *name)
{
	return (cm_http_fields_eq(fl->name, fl->name_len, name, strlen(name)));
}

static int
cm_http_fields_fill(struct cm_http_field *fl, const char *name,
    size_t name_len, const char *value, size_t value_len)
{
	char	*m;

	if ((m = malloc(name_len + value_len + 2)) == NULL)
		return (-1);
	memcpy(m, name, name_len);
	m[name_len] = '\0';
	memcpy(m + name_len + 1, value, value_len);
	m[name_len + 1 + value_len] = '\0';
	fl->name = m;
	fl->name_len = name_len;
	fl->value = m + name_len + 1;
	fl->value_len = value_len;
	return (0);
}

/*
 * Appends without checking: the parser's fields passed the pre-check and
 * llhttp already, and it trims values itself.
 */
int
cm_http_fields_push(struct cm_http_fields *f, const char *name,
    size_t name_len, const char *value, size_t value_len)
{
	struct cm_http_field	*v;
	size_t			 cap;

	if (f->n == f->cap) {
		cap = f->cap == 0 ? 16 : f->cap * 2;
		if ((v = reallocarray(f->v, cap, sizeof(*v))) == NULL)
			return (-1);
		f->v = v;
		f->cap = cap;
	}
	if (cm_http_fields_fill(&f->v[f->n], name, name_len, value,
	    value_len) == -1)
		return (-1);
	f->n++;
	return (0);
}

struct cm_http_fields *
cm_http_fields_new(void)
{
	return (calloc(1, sizeof(struct cm_http_fields)));
}

void
cm_http_fields_free(struct cm_http_fields *f)
{
	size_t	 i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++)
		free(f->v[i].name);
	free(f->v);
	free(f);
}

size_t
cm_http_fields_len(const struct cm_http_fields *f)
{
	return (f->n);
}

const char *
cm_http_fields_name(const struct cm_http_fields *f, size_t i)
{
	return (i < f->n ? f->v[i].name : NULL);
}

const char *
cm_http_fields_value(const struct cm_http_fields *f, size_t i)
{
	return (i < f->n ? f->v[i].value : NULL);
}

const char *
cm_http_fields_get(const struct cm_http_fields *f, const char *name)
{
	size_t	 i;

	for (i = 0; i < f->n; i++)
		if (cm_http_fields_is(&f->v[i], name))
			return (f->v[i].value);
	return (NULL);
}

size_t
cm_http_fields_count(const struct cm_http_fields *f, const char *name)
{
	size_t	 i, n = 0;

	for (i = 0; i < f->n; i++)
		if (cm_http_fields_is(&f->v[i], name))
			n++;
	return (n);
}

char *
cm_http_fields_join(const struct cm_http_fields *f, const char *name)
{
	size_t	 i, len = 0, n = 0;
	char	*s, *p;

	for (i = 0; i < f->n; i++) {
		if (cm_http_fields_is(&f->v[i], name)) {
			len += f->v[i].value_len + (n > 0 ? 2 : 0);
			n++;
		}
	}
	if (n == 0 || (s = malloc(len + 1)) == NULL)
		return (NULL);
	p = s;
	for (i = 0; i < f->n; i++) {
		if (!cm_http_fields_is(&f->v[i], name))
			continue;
		if (p != s) {
			memcpy(p, ", ", 2);
			p += 2;
		}
		memcpy(p, f->v[i].value, f->v[i].value_len);
		p += f->v[i].value_len;
	}
	*p = '\0';
	return (s);
}

int
cm_http_fields_has_token(const struct cm_http_fields *f, const char *name,
    const char *token)
{
	const char	*s, *e;
	size_t		 i, len, tlen = strlen(token);

	for (i = 0; i < f->n; i++) {
		if (!cm_http_fields_is(&f->v[i], name))
			continue;
		for (s = f->v[i].value; ; s = e + 1) {
			if ((e = strchr(s, ',')) == NULL)
				e = s + strlen(s);
			len = (size_t)(e - s);
			cm_http_fields_trim(&s, &len);
			if (cm_http_fields_eq(s, len, token, tlen))
				return (1);
			if (*e == '\0')
				break;
		}
	}
	return (0);
}

/* A caller's name and value: a token, and CTL-free once trimmed. */
static int
cm_http_fields_check(const char *name, const char **value, size_t *value_len)
{
	*value_len = strlen(*value);
	cm_http_fields_trim(value, value_len);
	if (!cm_http_scan_is_token(name, strlen(name)) ||
	    !cm_http_scan_is_value(*value, *value_len))
		return (-1);
	return (0);
}

int
cm_http_fields_add(struct cm_http_fields *f, const char *name,
    const char *value)
{
	size_t	 vlen;

	if (cm_http_fields_check(name, &value, &vlen) == -1)
		return (-1);
	return (cm_http_fields_push(f, name, strlen(name), value, vlen));
}

int
cm_http_fields_set(struct cm_http_fields *f, const char *name,
    const char *value)
{
	struct cm_http_field	 fl;
	size_t			 i, vlen;

	if (cm_http_fields_check(name, &value, &vlen) == -1)
		return (-1);
	for (i = 0; i < f->n; i++)
		if (cm_http_fields_is(&f->v[i], name))
			break;
	if (i == f->n)
		return (cm_http_fields_push(f, name, strlen(name), value,
		    vlen));
	if (cm_http_fields_fill(&fl, name, strlen(name), value, vlen) == -1)
		return (-1);
	free(f->v[i].name);
	f->v[i] = fl;
	/* Drop the later ones, keeping the first's position. */
	for (i = i + 1; i < f->n; ) {
		if (cm_http_fields_is(&f->v[i], name))
			cm_http_fields_remove_at(f, i);
		else
			i++;
	}
	return (0);
}

int
cm_http_fields_set_at(struct cm_http_fields *f, size_t i, const char *value)
{
	struct cm_http_field	 fl;
	const char		*name;
	size_t			 vlen;

	if (i >= f->n)
		return (-1);
	name = f->v[i].name;
	if (cm_http_fields_check(name, &value, &vlen) == -1 ||
	    cm_http_fields_fill(&fl, name, f->v[i].name_len, value, vlen) == -1)
		return (-1);
	free(f->v[i].name);
	f->v[i] = fl;
	return (0);
}

size_t
cm_http_fields_remove(struct cm_http_fields *f, const char *name)
{
	size_t	 i, j, n = 0;

	for (i = j = 0; i < f->n; i++) {
		if (cm_http_fields_is(&f->v[i], name)) {
			free(f->v[i].name);
			n++;
		} else
			f->v[j++] = f->v[i];
	}
	f->n = j;
	return (n);
}

void
cm_http_fields_remove_at(struct cm_http_fields *f, size_t i)
{
	if (i >= f->n)
		return;
	free(f->v[i].name);
	memmove(&f->v[i], &f->v[i + 1], (f->n - i - 1) * sizeof(f->v[0]));
	f->n--;
}
