/*
 * Pinned SSH host keys (spec/gitgate.md §3.2.6, §5.2).  Trust comes only
 * from comparing the raw key blob the server presents with these; the
 * parser is strict so that a pin means exactly one key.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/util.h"
#include "gitgate/conf.h"

static const char *const gg_hostkey_types[] = {
	"ssh-ed25519",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"ssh-rsa",
	NULL
};

static int
gg_hostkey_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

ssize_t
gg_hostkey_b64(const char *in, size_t inlen, unsigned char *out,
    size_t outlen)
{
	size_t		 i, o = 0, pad = 0;
	unsigned	 acc = 0;
	int		 bits = 0, v;

	for (i = 0; i < inlen; i++) {
		if (in[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = gg_hostkey_b64val((unsigned char)in[i]))
		    == -1)
			return (-1);
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return (-1);
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (pad > 2 || bits >= 6 || acc != 0)
		return (-1);
	return ((ssize_t)o);
}

void
gg_hostkey_blob_type(const unsigned char *blob, size_t len, char *out,
    size_t outlen)
{
	size_t	 n;

	out[0] = '\0';
	if (len < 4)
		return;
	n = ((size_t)blob[0] << 24) | ((size_t)blob[1] << 16) |
	    ((size_t)blob[2] << 8) | blob[3];
	if (n == 0 || n > len - 4 || n >= outlen)
		return;
	memcpy(out, blob + 4, n);
	out[n] = '\0';
}

void
gg_hostkey_fingerprint(const unsigned char *blob, size_t len, char *out,
    size_t outlen)
{
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	char		 b64[64];
	int		 n;

	SHA256(blob, len, md);
	n = EVP_EncodeBlock((unsigned char *)b64, md, sizeof(md));
	/* ssh-keygen prints it without the padding. */
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	(void)snprintf(out, outlen, "SHA256:%s", b64);
}

/* One known_hosts host pattern against "host" or "[host]:port". */
static int
gg_hostkey_host_match(const char *pat, size_t plen, const char *want,
    char *why, size_t whylen)
{
	unsigned char	 salt[64], hash[64], md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	const char	*bar;
	ssize_t		 sl, hl;

	if (plen == 0) {
		(void)snprintf(why, whylen, "empty host name");
		return (-1);
	}
	if (pat[0] == '!' || memchr(pat, '*', plen) != NULL ||
	    memchr(pat, '?', plen) != NULL) {
		(void)snprintf(why, whylen, "host patterns with wildcards or "
		    "negations are not allowed");
		return (-1);
	}
	if (plen > 3 && memcmp(pat, "|1|", 3) == 0) {
		bar = memchr(pat + 3, '|', plen - 3);
		if (bar == NULL) {
			(void)snprintf(why, whylen, "bad hashed host name");
			return (-1);
		}
		sl = gg_hostkey_b64(pat + 3, (size_t)(bar - pat - 3), salt,
		    sizeof(salt));
		hl = gg_hostkey_b64(bar + 1, plen - (size_t)(bar + 1 - pat),
		    hash, sizeof(hash));
		if (sl <= 0 || hl != 20) {
			(void)snprintf(why, whylen, "bad hashed host name");
			return (-1);
		}
		(void)HMAC(EVP_sha1(), salt, (int)sl,
		    (const unsigned char *)want, strlen(want), md, &mdlen);
		return (mdlen == 20 && memcmp(md, hash, 20) == 0);
	}
	return (strlen(want) == plen && memcmp(pat, want, plen) == 0);
}

int
gg_hostkey_parse(const char *line, const char *host, int port,
    struct gg_hostkey *out, char *why, size_t whylen, const char **warn)
{
	const char	*tok[3], *p = line;
	size_t		 toklen[3], nt = 0, i, ti;
	char		 want[300], inner[64];
	unsigned char	*blob;
	ssize_t		 bl;
	int		 hosts = 0, m, any = 0;

	*warn = NULL;
	memset(out, 0, sizeof(*out));
	while (*p != '\0' && nt < 3) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		tok[nt] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		toklen[nt] = (size_t)(p - tok[nt]);
		nt++;
	}
	for (i = 0; line[i] != '\0'; i++)
		if (iscntrl((unsigned char)line[i]) && line[i] != '\t') {
			(void)snprintf(why, whylen, "control characters are "
			    "not allowed");
			return (-1);
		}
	if (nt == 0) {
		(void)snprintf(why, whylen, "empty host key");
		return (-1);
	}
	if (tok[0][0] == '@') {
		(void)snprintf(why, whylen, "known_hosts markers "
		    "(@cert-authority, @revoked) are not allowed");
		return (-1);
	}
	/* TYPE first, or HOSTS then TYPE. */
	ti = 0;
	for (i = 0; gg_hostkey_types[i] != NULL; i++)
		if (strlen(gg_hostkey_types[i]) == toklen[0] &&
		    memcmp(gg_hostkey_types[i], tok[0], toklen[0]) == 0)
			break;
	if (gg_hostkey_types[i] == NULL && !(toklen[0] == 7 &&
	    memcmp(tok[0], "ssh-dss", 7) == 0)) {
		hosts = 1;
		ti = 1;
	}
	if (nt < ti + 2) {
		(void)snprintf(why, whylen, "expected \"TYPE BASE64\" or "
		    "\"HOSTS TYPE BASE64\"");
		return (-1);
	}
	if (toklen[ti] == 7 && memcmp(tok[ti], "ssh-dss", 7) == 0) {
		(void)snprintf(why, whylen, "ssh-dss host keys are not "
		    "supported; pin an ed25519 or ECDSA key");
		return (-1);
	}
	for (i = 0; gg_hostkey_types[i] != NULL; i++)
		if (strlen(gg_hostkey_types[i]) == toklen[ti] &&
		    memcmp(gg_hostkey_types[i], tok[ti], toklen[ti]) == 0)
			break;
	if (gg_hostkey_types[i] == NULL) {
		(void)snprintf(why, whylen, "unknown key type (want "
		    "ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa)");
		return (-1);
	}
	cm_strlcpy(out->type, gg_hostkey_types[i], sizeof(out->type));
	if (hosts) {
		if (port == 22)
			(void)snprintf(want, sizeof(want), "%s", host);
		else
			(void)snprintf(want, sizeof(want), "[%s]:%d", host,
			    port);
		p = tok[0];
		while (p < tok[0] + toklen[0]) {
			const char *e = memchr(p, ',', (size_t)(tok[0] +
			    toklen[0] - p));

			if (e == NULL)
				e = tok[0] + toklen[0];
			m = gg_hostkey_host_match(p, (size_t)(e - p), want,
			    why, whylen);
			if (m == -1)
				return (-1);
			any |= m;
			p = e + 1;
		}
		if (!any) {
			(void)snprintf(why, whylen, "no host name matches the "
			    "url's %s", want);
			return (-1);
		}
	}
	if ((blob = malloc(toklen[ti + 1])) == NULL) {
		(void)snprintf(why, whylen, "out of memory");
		return (-1);
	}
	bl = gg_hostkey_b64(tok[ti + 1], toklen[ti + 1], blob, toklen[ti + 1]);
	if (bl <= 0) {
		free(blob);
		(void)snprintf(why, whylen, "the key is not valid base64");
		return (-1);
	}
	gg_hostkey_blob_type(blob, (size_t)bl, inner, sizeof(inner));
	if (strcmp(inner, out->type) != 0) {
		free(blob);
		(void)snprintf(why, whylen, "the key's type (%s) is not %s",
		    inner[0] != '\0' ? inner : "unreadable", out->type);
		return (-1);
	}
	out->blob = blob;
	out->len = (size_t)bl;
	if (strcmp(out->type, "ssh-rsa") == 0)
		*warn = "ssh-rsa host key: libgit2 1.5 asks for it with SHA-1 "
		    "signatures, which OpenSSH >= 8.8 refuses by default; pin "
		    "an ed25519 or ECDSA key";
	return (0);
}
