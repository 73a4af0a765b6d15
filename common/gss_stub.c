/*
 * GSSAPI stand-ins for the static binary only (spec/bundle.md §1.2).
 *
 * Debian's libgit2 is built with GSSAPI for HTTP Negotiate auth, but MIT
 * krb5 ships no static archives, so a -static link of libgit2.a fails on
 * exactly these symbols (nm libgit2.a | grep -i gss).  Each function
 * answers GSS_S_FAILURE, so a Negotiate challenge fails cleanly and
 * libgit2 moves on to the next auth method; the gate talks to upstreams
 * over SSH (libssh2), never Negotiate.  The dynamic build links the real
 * libgssapi_krb5 and never compiles this file.
 *
 * There is no gssapi.h on the build machine (libkrb5-dev is not a build
 * dependency), so the ABI types of MIT's <gssapi/gssapi.h> are restated
 * here: OM_uint32 is a 32-bit unsigned, every other argument a pointer.
 * The exported names are fixed by that ABI, hence no cm_ prefix on them.
 */
#include <stddef.h>
#include <stdint.h>

typedef uint32_t	OM_uint32;

struct cm_gss_stub_oid {
	OM_uint32	 length;
	void		*elements;
};

/* GSS_S_FAILURE: routine error 13 (GSS_S_FAILURE) << 16, RFC 2744. */
#define CM_GSS_STUB_FAILURE	(((OM_uint32)13) << 16)

/* Needed for linkage only; defined before use to satisfy -Wall. */
extern struct cm_gss_stub_oid	*GSS_C_NT_HOSTBASED_SERVICE;
OM_uint32	 gss_delete_sec_context(OM_uint32 *minor, void **ctx,
		    void *token);
OM_uint32	 gss_display_status(OM_uint32 *minor, OM_uint32 status,
		    int type, void *mech, OM_uint32 *msgctx, void *buf);
OM_uint32	 gss_import_name(OM_uint32 *minor, void *buf, void *type,
		    void **name);
OM_uint32	 gss_indicate_mechs(OM_uint32 *minor, void **mechs);
OM_uint32	 gss_init_sec_context(OM_uint32 *minor, void *cred,
		    void **ctx, void *target, void *mech, OM_uint32 flags,
		    OM_uint32 time_req, void *bindings, void *input,
		    void **actual_mech, void *output, OM_uint32 *ret_flags,
		    OM_uint32 *time_rec);
OM_uint32	 gss_release_buffer(OM_uint32 *minor, void *buf);
OM_uint32	 gss_release_name(OM_uint32 *minor, void **name);
OM_uint32	 gss_release_oid_set(OM_uint32 *minor, void **set);

/* 1.2.840.113554.1.2.1.4, the real value, in case anything compares it. */
static unsigned char cm_gss_stub_hbs_bytes[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x01, 0x04
};
static struct cm_gss_stub_oid cm_gss_stub_hbs = {
	sizeof(cm_gss_stub_hbs_bytes), cm_gss_stub_hbs_bytes
};
struct cm_gss_stub_oid *GSS_C_NT_HOSTBASED_SERVICE = &cm_gss_stub_hbs;

static OM_uint32
cm_gss_stub_fail(OM_uint32 *minor)
{
	if (minor != NULL)
		*minor = 0;
	return (CM_GSS_STUB_FAILURE);
}

OM_uint32
gss_delete_sec_context(OM_uint32 *minor, void **ctx, void *token)
{
	return (cm_gss_stub_fail(minor));
}

OM_uint32
gss_display_status(OM_uint32 *minor, OM_uint32 status, int type, void *mech,
    OM_uint32 *msgctx, void *buf)
{
	/* No more messages: callers loop while *msgctx != 0. */
	if (msgctx != NULL)
		*msgctx = 0;
	return (cm_gss_stub_fail(minor));
}

OM_uint32
gss_import_name(OM_uint32 *minor, void *buf, void *type, void **name)
{
	if (name != NULL)
		*name = NULL;
	return (cm_gss_stub_fail(minor));
}

OM_uint32
gss_indicate_mechs(OM_uint32 *minor, void **mechs)
{
	if (mechs != NULL)
		*mechs = NULL;
	return (cm_gss_stub_fail(minor));
}

OM_uint32
gss_init_sec_context(OM_uint32 *minor, void *cred, void **ctx, void *target,
    void *mech, OM_uint32 flags, OM_uint32 time_req, void *bindings,
    void *input, void **actual_mech, void *output, OM_uint32 *ret_flags,
    OM_uint32 *time_rec)
{
	return (cm_gss_stub_fail(minor));
}

OM_uint32
gss_release_buffer(OM_uint32 *minor, void *buf)
{
	return (cm_gss_stub_fail(minor));
}

OM_uint32
gss_release_name(OM_uint32 *minor, void **name)
{
	return (cm_gss_stub_fail(minor));
}

OM_uint32
gss_release_oid_set(OM_uint32 *minor, void **set)
{
	return (cm_gss_stub_fail(minor));
}
