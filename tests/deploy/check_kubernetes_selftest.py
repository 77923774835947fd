#!/usr/bin/env python3
"""Proves that check_kubernetes.py fails when it should.

Usage: check_kubernetes_selftest.py REPO_ROOT

Copies REPO_ROOT/deploy/kubernetes into a temporary tree, checks that the copy passes, then
breaks it in one way per case (an unknown key, a wrong type, a missing required field, a
cross-check that no longer holds, ...) and expects check_kubernetes.py to exit 1 and to name
the file and path of the error. Exit status 1 if any case did not go as expected.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import yaml
except ImportError as exc:  # e.g. a pyenv/venv python3 first on PATH: use Debian's own
    _debian = "/usr/bin/python3"
    if (os.access(_debian, os.X_OK) and not os.environ.get("CHECK_KUBERNETES_REEXEC")
            and os.path.realpath(sys.executable) != os.path.realpath(_debian)):
        os.environ["CHECK_KUBERNETES_REEXEC"] = "1"
        os.execv(_debian, [_debian] + sys.argv)
    print(f"check_kubernetes_selftest.py: {exc}. Install python3-yaml.", file=sys.stderr)
    sys.exit(2)

CHECKER = Path(__file__).resolve().parent / "check_kubernetes.py"
K8S = Path("deploy") / "kubernetes"


# --- Mutations: each edits the copy at `root` ---------------------------------------------------


def edit(file, fn, doc_index=0):
    """Loads a YAML file of the copy, lets fn change document `doc_index`, writes it back."""
    def apply(root):
        path = root / K8S / file
        docs = list(yaml.safe_load_all(path.read_text()))
        fn(docs[doc_index])
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return apply


def append(file, text):
    def apply(root):
        with open(root / K8S / file, "a") as f:
            f.write(text)
    return apply


def write(file, text):
    def apply(root):
        (root / K8S / file).write_text(text)
    return apply


def container(d):
    return d["spec"]["template"]["spec"]["containers"][0]


def rename(mapping, old, new):
    mapping[new] = mapping.pop(old)


def set_in(path, value):
    def fn(d):
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return fn


def delete(path):
    def fn(d):
        for k in path[:-1]:
            d = d[k]
        del d[path[-1]]
    return fn


POD = ["spec", "template", "spec"]
C0 = POD + ["containers", 0]
ENDPOINT = ["spec", "podMetricsEndpoints", 0]

# (name, mutation, substrings the output must contain)
CASES = [
    # Schema: unknown keys, wrong types, missing required fields.
    ("unknown key in a probe",
     edit("deployment.yaml",
          lambda d: rename(container(d)["readinessProbe"], "httpGet", "httpGett")),
     ["deployment.yaml", "spec.template.spec.containers[0].readinessProbe.httpGett: unknown key",
      'did you mean "httpGet"']),
    ("unknown top-level key of a pod spec",
     edit("deployment.yaml", set_in(POD + ["terminationGracePeriod"], 60)),
     ["deployment.yaml", "spec.template.spec.terminationGracePeriod: unknown key"]),
    ("string where an int is expected",
     edit("deployment.yaml", set_in(["spec", "replicas"], "3")),
     ["deployment.yaml", "spec.replicas: expected int, got string"]),
    ("string where a list is expected",
     edit("deployment.yaml", set_in(C0 + ["args"], "run -c /etc/mapigate/mapigate.yaml")),
     ["deployment.yaml", "spec.template.spec.containers[0].args: expected a list"]),
    ("unquoted number as an annotation value",
     edit("deployment.yaml", set_in(["spec", "template", "metadata", "annotations",
                                     "prometheus.io/port"], 9464)),
     ["deployment.yaml", "annotations[prometheus.io/port]: expected string, got int"]),
    ("list where an IntOrString is expected",
     edit("deployment.yaml", set_in(C0 + ["livenessProbe", "httpGet", "port"], [9464])),
     ["containers[0].livenessProbe.httpGet.port: expected int or string"]),
    ("not a quantity",
     edit("deployment.yaml", set_in(C0 + ["resources", "requests", "memory"], "256MB")),
     ["containers[0].resources.requests.memory: '256MB' is not a Kubernetes quantity"]),
    ("missing required containers[].name",
     edit("deployment.yaml", delete(C0 + ["name"])),
     ["deployment.yaml", "spec.template.spec.containers[0]: missing required field name"]),
    ("missing required spec.selector",
     edit("deployment.yaml", delete(["spec", "selector"])),
     ["deployment.yaml", "Deployment/mapigate: spec: missing required field selector"]),
    ("missing required Service port",
     edit("service.yaml", delete(["spec", "ports", 0, "port"])),
     ["service.yaml", "spec.ports[0]: missing required field port"]),
    ("bool as a label value",
     edit("poddisruptionbudget.yaml", set_in(["metadata", "labels", "critical"], True)),
     ["poddisruptionbudget.yaml", "metadata.labels.critical: expected string, got bool"]),
    ("duplicate key",
     append("deployment.yaml", "kind: Deployment\n"),
     ["deployment.yaml", "duplicate key 'kind'"]),
    ("unknown key in the NetworkPolicy",
     edit("components/networkpolicy/networkpolicy.yaml",
          lambda d: rename(d["spec"]["ingress"][0]["ports"][0], "port", "portt")),
     ["components/networkpolicy/networkpolicy.yaml",
      "spec.ingress[0].ports[0].portt: unknown key"]),
    ("unknown key in the PodMonitor (small CRD schema)",
     edit("components/podmonitor/podmonitor.yaml",
          lambda d: rename(d["spec"]["podMetricsEndpoints"][0], "authorization", "authorisation")),
     ["components/podmonitor/podmonitor.yaml",
      "spec.podMetricsEndpoints[0].authorisation: unknown key"]),
    ("wrong type in the PodMonitor",
     edit("components/podmonitor/podmonitor.yaml", set_in(ENDPOINT + ["port"], 9464)),
     ["spec.podMetricsEndpoints[0].port: expected string, got int"]),
    ("missing required PodMonitor selector",
     edit("components/podmonitor/podmonitor.yaml", delete(["spec", "selector"])),
     ["components/podmonitor/podmonitor.yaml", "spec: missing required field selector"]),
    ("unknown key in kustomization.yaml",
     edit("kustomization.yaml", lambda d: rename(d, "configMapGenerator", "configMapGenerators")),
     ["kustomization.yaml", "configMapGenerators: unknown key"]),
    ("a YAML file no kustomization uses",
     write("extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"),
     ["extra.yaml", "not used by kustomization.yaml"]),
    # Cross-checks.
    ("readiness probe counts the backends",
     edit("deployment.yaml", set_in(C0 + ["readinessProbe", "httpGet", "path"], "/readyz")),
     ["readinessProbe.httpGet.path: '/readyz', expected '/readyz?exclude=backends'"]),
    ("no POD_NAME from the downward API",
     edit("deployment.yaml", delete(C0 + ["env"])),
     ["spec.template.spec.containers[0].env: needs POD_NAME"]),
    ("no --server-name",
     edit("deployment.yaml", set_in(C0 + ["args"], ["run", "-c", "/etc/mapigate/mapigate.yaml"])),
     ['containers[0].args: needs "--server-name"']),
    ("workers do not match the CPU request",
     edit("mapigate.yaml", set_in(["workers"], 3)),
     ["resources.requests.cpu: '2' but mapigate.yaml has workers: 3"]),
    ("log budget above the emptyDir sizeLimit",
     edit("mapigate.yaml", set_in(["logs", "max_directory_size"], "1GiB")),
     ["1024MiB + 8 x max_file_size 10MiB = 1104MiB exceeds emptyDir logs sizeLimit 1Gi"]),
    ("config ConfigMap not generated (no roll on change)",
     edit("deployment.yaml", lambda d: [v["configMap"].update(name="mapigate-cfg")
                                        for v in d["spec"]["template"]["spec"]["volumes"]
                                        if "configMap" in v]),
     ["ConfigMap mapigate-cfg of /etc/mapigate/mapigate.yaml is not generated"]),
    ("a ticket key file that is not a key of the Secret",
     edit("mapigate.yaml", set_in(["listeners", 0, "tls", "ticket_key_files"],
                                  ["/etc/mapigate/secret/ticket-next.key"])),
     ["no key ticket-next.key"]),
    ("placeholder Secret applied by default",
     edit("kustomization.yaml", lambda d: d["resources"].append("secret.yaml")),
     ["secret.yaml", "the placeholder Secret is applied by the kustomization"]),
    ("PodMonitor names a Secret key that does not exist",
     edit("components/podmonitor/podmonitor.yaml",
          set_in(ENDPOINT + ["authorization", "credentials", "key"], "admin-tokn")),
     ["authorization.credentials: Secret mapigate-secret has no key admin-tokn"]),
    ("NetworkPolicy blocks the admin port",
     edit("components/networkpolicy/networkpolicy.yaml", lambda d: d["spec"]["ingress"].pop()),
     ["networkpolicy.yaml", "no rule allows container port admin (9464)"]),
]


def run_checker(root):
    p = subprocess.run([sys.executable, str(CHECKER), str(root)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    return p.returncode, p.stdout


def fresh_copy(repo, tmp, name):
    root = Path(tmp) / name
    shutil.copytree(repo / K8S, root / K8S)
    return root


def main(argv):
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    repo = Path(argv[1]).resolve()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="check_kubernetes_selftest.") as tmp:
        rc, out = run_checker(fresh_copy(repo, tmp, "unchanged"))
        if rc != 0:
            print(f"FAIL: the unchanged copy does not pass (exit {rc}); fix that first:\n{out}")
            return 1
        print("ok:   unchanged copy passes")
        for i, (name, mutate, expected) in enumerate(CASES):
            root = fresh_copy(repo, tmp, f"case{i}")
            mutate(root)
            rc, out = run_checker(root)
            missing = [e for e in expected if e not in out]
            if rc == 1 and not missing:
                print(f"ok:   {name}")
                continue
            failures += 1
            print(f"FAIL: {name}: exit {rc} (expected 1)"
                  + (f", output lacks {missing}" if missing else ""))
            print("      " + out.replace("\n", "\n      "))
    print(f"check_kubernetes_selftest.py: {len(CASES)} cases, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
