#!/usr/bin/env bash
# spec/bundle.md §7 test 12: every manifest under deploy/k8s/ parses, each
# kustomization lists files that exist, and selectors, labels and ports
# agree between the pods, the Service and the NetworkPolicies; the pods
# keep the hardening of §4.8 and no manifest carries a Secret.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import yaml' 2>/dev/null || skip_all "python3-yaml not installed"
K8S=$BB_SRCDIR/deploy/k8s
[ -d "$K8S" ] || skip_all "no deploy/k8s in $BB_SRCDIR"

"$PY" - "$K8S" <<'PY'
import glob, os, sys, yaml

root = sys.argv[1]
n = 0
failed = 0

def ok(cond, desc, why=""):
    global n, failed
    n += 1
    if cond:
        print("ok %d - %s" % (n, desc))
    else:
        failed += 1
        print("not ok %d - %s" % (n, desc))
        if why:
            print("#   " + str(why))

AGENT_PORTS = {9099, 9100, 9418, 9420}

def pod_specs(objs):
    """(name, labels, spec) of every pod template or pod."""
    out = []
    for o in objs:
        k = o.get("kind")
        if k == "Pod":
            out.append((o["metadata"]["name"],
                        o["metadata"].get("labels", {}), o["spec"]))
        elif k == "Deployment":
            t = o["spec"]["template"]
            out.append((o["metadata"]["name"],
                        t["metadata"].get("labels", {}), t["spec"]))
    return out

def matches(sel, labels):
    return all(labels.get(k) == v for k, v in (sel or {}).items())

def containers(spec):
    return spec.get("initContainers", []) + spec.get("containers", [])

for variant in ("two-pod", "native-sidecar"):
    d = os.path.join(root, variant)
    objs = []
    for f in sorted(glob.glob(os.path.join(d, "*.yaml"))):
        try:
            docs = [x for x in yaml.safe_load_all(open(f)) if x is not None]
            good = all("apiVersion" in x and "kind" in x for x in docs)
            ok(good, "%s/%s parses (%s)" % (variant, os.path.basename(f),
               ", ".join(x["kind"] for x in docs)))
            objs.extend(docs)
        except Exception as e:
            ok(False, "%s/%s parses" % (variant, os.path.basename(f)), e)
    kus = [o for o in objs if o["kind"] == "Kustomization"]
    ok(len(kus) == 1, "%s: one kustomization" % variant)
    res = kus[0].get("resources", []) if kus else []
    missing = [r for r in res if not os.path.exists(os.path.join(d, r))]
    ok(not missing, "%s: every kustomization resource exists" % variant, missing)
    listed = set(res) | {"kustomization.yaml"}
    extra = [os.path.basename(f) for f in glob.glob(os.path.join(d, "*.yaml"))
             if os.path.basename(f) not in listed]
    ok(not extra, "%s: every manifest is listed in the kustomization" % variant,
       extra)
    ok(not [o for o in objs if o["kind"] == "Secret"],
       "%s: no Secret in the manifests (the launcher creates it)" % variant)
    pods = pod_specs(objs)
    for name, labels, spec in pods:
        ok(spec.get("automountServiceAccountToken") is False and
           spec.get("enableServiceLinks") is False,
           "%s/%s: no service-account token, no service links" % (variant, name))
        sc = spec.get("securityContext", {})
        ok(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
           "%s/%s: seccomp RuntimeDefault" % (variant, name))
        for c in containers(spec):
            csc = c.get("securityContext", {})
            if c["name"] == "firewall":
                ok(csc.get("capabilities", {}).get("add") == ["NET_ADMIN"],
                   "%s/%s/firewall: only NET_ADMIN added" % (variant, name))
                continue
            ok(csc.get("allowPrivilegeEscalation") is False and
               csc.get("readOnlyRootFilesystem") is True and
               csc.get("capabilities", {}).get("drop") == ["ALL"] and
               (csc.get("runAsNonRoot", sc.get("runAsNonRoot")) is True),
               "%s/%s/%s: non-root, read-only root, no escalation, drop ALL"
               % (variant, name, c["name"]))
            if c["name"] == "sidecar":
                uid = csc.get("runAsUser", sc.get("runAsUser"))
                ok(uid == 65532, "%s/%s/sidecar: uid 65532" % (variant, name))
                ports = {p["containerPort"] for p in c.get("ports", [])}
                ok(ports == AGENT_PORTS,
                   "%s/%s/sidecar: exactly the four agent ports" % (variant, name),
                   ports)
                probes = [c.get(p, {}).get("exec", {}).get("command")
                          for p in ("readinessProbe", "livenessProbe")]
                ok(all(p == ["/usr/local/bin/bb-sidecar", "health"] for p in probes),
                   "%s/%s/sidecar: exec probes bb-sidecar health" % (variant, name))
                mounts = c.get("volumeMounts", [])
                ok(all("subPath" not in m for m in mounts),
                   "%s/%s/sidecar: no subPath mounts" % (variant, name))
                if variant == "native-sidecar":
                    ok(c.get("restartPolicy") == "Always" and
                       c in spec.get("initContainers", []),
                       "native-sidecar: the sidecar is an init container "
                       "with restartPolicy Always")
            if c["name"] == "agent":
                uid = csc.get("runAsUser", sc.get("runAsUser"))
                ok(uid not in (0, 65532, None),
                   "%s/%s/agent: a uid that is neither root nor the sidecar's"
                   % (variant, name))
    for o in objs:
        if o["kind"] == "Deployment":
            sel = o["spec"]["selector"]["matchLabels"]
            ok(matches(sel, o["spec"]["template"]["metadata"]["labels"]),
               "%s: Deployment selector matches its template" % variant)
            ok(o["spec"].get("strategy", {}).get("type") == "Recreate",
               "%s: Deployment strategy Recreate" % variant)
        if o["kind"] == "Service":
            sel = o["spec"]["selector"]
            hit = [p for p in pods if matches(sel, p[1])]
            ok(len(hit) == 1 and hit[0][1].get("app.kubernetes.io/component")
               == "sidecar", "%s: Service selects the sidecar pod only" % variant)
            sports = {p["port"] for p in o["spec"]["ports"]}
            ok(sports == AGENT_PORTS, "%s: Service has the four agent ports"
               % variant, sports)
            if hit:
                names = {p.get("name") for c in containers(hit[0][2])
                         for p in c.get("ports", [])}
                tps = [p["targetPort"] for p in o["spec"]["ports"]]
                ok(all(t in names for t in tps),
                   "%s: Service targetPorts name container ports" % variant, tps)
        if o["kind"] == "NetworkPolicy":
            sel = o["spec"]["podSelector"].get("matchLabels", {})
            hit = [p for p in pods if matches(sel, p[1])]
            nm = o["metadata"]["name"]
            ok(len(hit) >= 1, "%s: NetworkPolicy %s selects a pod" % (variant, nm))
            for rule in o["spec"].get("egress", []) + o["spec"].get("ingress", []):
                peers = rule.get("to", []) + rule.get("from", [])
                for peer in peers:
                    ps = peer.get("podSelector", {}).get("matchLabels")
                    if ps and "namespaceSelector" not in peer:
                        ok(any(matches(ps, p[1]) for p in pods),
                           "%s: NetworkPolicy %s peer selects a pod" % (variant, nm))
                ports = {p["port"] for p in rule.get("ports", [])}
                if ports and 53 not in ports:
                    ok(ports == AGENT_PORTS,
                       "%s: NetworkPolicy %s ports are the four agent ports"
                       % (variant, nm), ports)
                for peer in peers:
                    ib = peer.get("ipBlock")
                    if ib:
                        ex = set(ib.get("except", []))
                        need = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                "100.64.0.0/10", "169.254.0.0/16"}
                        ok(need <= ex, "%s: NetworkPolicy %s keeps private and "
                           "link-local ranges out" % (variant, nm), need - ex)
    if variant == "two-pod":
        nps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "NetworkPolicy"}
        dd = nps.get("default-deny", {}).get("spec", {})
        ok(dd.get("podSelector") == {} and set(dd.get("policyTypes", [])) ==
           {"Ingress", "Egress"} and not dd.get("ingress") and not dd.get("egress"),
           "two-pod: a default-deny policy for every pod")
print("1..%d" % n)
sys.exit(1 if failed else 0)
PY
