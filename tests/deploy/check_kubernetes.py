#!/usr/bin/env python3
"""Validates deploy/kubernetes against the Kubernetes API schema, offline, and cross-checks it
against the mapigate.yaml it ships.

Usage: check_kubernetes.py REPO_ROOT

Schema. The models of python3-kubernetes (Debian 12: 22.6.0, generated from the OpenAPI spec of
Kubernetes 1.22) are the schema: apiVersion/kind selects a model class (apps/v1 Deployment ->
V1Deployment, ...), and every mapping is walked strictly against its class:
  - every key must be a JSON attribute of the class (attribute_map); anything else is an error
    with its path, e.g. spec.template.spec.containers[0].readinessProbe.httpGett;
  - every value must have the type of openapi_types: str, int, bool, float, list[...],
    dict(str, ...), a nested model; `object` is IntOrString (ports, maxSurge, ...);
    resource quantities (requests, limits, emptyDir sizeLimit) are strings or numbers that
    parse as a Kubernetes quantity;
  - required fields: each mapping is passed to its class's constructor, which (with
    client_side_validation) raises ValueError for a required field that is missing.
Duplicate keys in a mapping are errors (kubectl rejects them too). Fields newer than
Kubernetes 1.22 are reported as unknown: the manifests keep to fields every supported cluster
knows.

Not in python3-kubernetes, hence checked against small schemas written below (SCHEMAS): the
Prometheus Operator's PodMonitor (monitoring.coreos.com/v1; only the fields mapigate's
PodMonitor may use, from the operator's CRD) and kustomize's Kustomization and Component.

Kustomize is emulated just enough: the root kustomization.yaml's resources and
configMapGenerator (the generated ConfigMap gets a content hash suffix and the Deployment's
reference to it is rewritten, as kustomize does), plus every optional Component under the
directory, applied on top so that they are checked too. Every YAML file must be used by a
kustomization, except the Secret template (secret.yaml), which must not be.

Cross-checks (mapigate specifics): readiness probe on /readyz?exclude=backends, liveness on
/healthz, both on the admin port; POD_NAME from the downward API passed as --server-name;
`workers` equal to the CPU request; logs.max_directory_size + 8 x logs.max_file_size within
the log emptyDir's sizeLimit; the config ConfigMap generated with a hash suffix; the Secret
keys every consumer names; PodMonitor and NetworkPolicy agree with the pods.

Every error is reported as FILE: OBJECT: PATH: MESSAGE; exit status 1 if there was any, 0
otherwise, 2 on bad usage or missing Python modules.
"""

import copy
import difflib
import hashlib
import json
import os
import re
import sys
from fractions import Fraction
from pathlib import Path

try:
    import yaml
    from kubernetes.client import models as k8s_models
    from kubernetes.client.configuration import Configuration
except ImportError as exc:  # e.g. a pyenv/venv python3 first on PATH: use Debian's own
    _debian = "/usr/bin/python3"
    if (os.access(_debian, os.X_OK) and not os.environ.get("CHECK_KUBERNETES_REEXEC")
            and os.path.realpath(sys.executable) != os.path.realpath(_debian)):
        os.environ["CHECK_KUBERNETES_REEXEC"] = "1"
        os.execv(_debian, [_debian] + sys.argv)
    print(f"check_kubernetes.py: {exc}. Install python3-kubernetes and python3-yaml "
          "(Debian/Ubuntu; scripts/install-deps.sh does).", file=sys.stderr)
    sys.exit(2)

# --- What this check knows --------------------------------------------------------------------

# apiVersion, kind -> python3-kubernetes model class.
KINDS = {
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
    ("networking.k8s.io/v1", "Ingress"): "V1Ingress",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "V1HorizontalPodAutoscaler",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
}

# Fields whose Go type is resource.Quantity: the OpenAPI spec (and so the model) says string, but
# the API server also takes a JSON number. (model, python attribute)
QUANTITY_FIELDS = {
    ("V1ResourceRequirements", "limits"),
    ("V1ResourceRequirements", "requests"),
    ("V1EmptyDirVolumeSource", "size_limit"),
    ("V1ResourceFieldSelector", "divisor"),
}
# `object` fields that are free-form JSON rather than IntOrString.
FREE_FORM_FIELDS = {("V1ManagedFieldsEntry", "fields_v1")}
# []byte fields: base64 text in YAML/JSON.
BASE64_FIELDS = {("V1Secret", "data"), ("V1ConfigMap", "binary_data")}

# Exchange protocol folders under <logs.directory>/HttpProxy that mapigate may write at once,
# each with one open file of up to logs.max_file_size beside the max_directory_size budget.
LOG_PROTOCOL_FOLDERS = ["Mapi", "Autodiscover", "Ews", "RpcHttp", "Eas", "Owa", "Oab", "Ecp"]
# Defaults of config/README.md.
DEFAULT_MAX_FILE_SIZE = 10 << 20
DEFAULT_MAX_DIRECTORY_SIZE = 1 << 30

READINESS_PATH = "/readyz?exclude=backends"
LIVENESS_PATH = "/healthz"
SERVER_NAME_ENV = "POD_NAME"


class Obj:
    """A mapping with known keys, for kinds python3-kubernetes does not have (SCHEMAS)."""

    def __init__(self, name, fields, required=()):
        self.name, self.fields, self.required = name, fields, tuple(required)


class ListOf:
    def __init__(self, item):
        self.item = item


class MapOf:
    def __init__(self, value):
        self.value = value


class Enum:
    def __init__(self, *values):
        self.values = values


class Pattern:
    def __init__(self, regex, what):
        self.regex, self.what = re.compile(regex), what


ANY = "any"

# Prometheus Operator PodMonitor, monitoring.coreos.com/v1: the fields this repository's
# PodMonitor uses and their close neighbours, as the operator's CRD defines them
# (example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml). A field missing here
# is reported as unknown: add it from the CRD when a manifest needs it.
PROM_DURATION = Pattern(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
                        r"(([0-9]+)s)?(([0-9]+)ms)?)$", "a Prometheus duration (15s, 1m)")
SECRET_KEY_SELECTOR = Obj("SecretKeySelector",
                          {"name": "str", "key": "str", "optional": "bool"}, required=["key"])
RELABEL_CONFIG = Obj("RelabelConfig", {
    "action": Enum("replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod",
                   "labelmap", "LabelMap", "labeldrop", "LabelDrop", "labelkeep", "LabelKeep",
                   "lowercase", "Lowercase", "uppercase", "Uppercase", "keepequal", "KeepEqual",
                   "dropequal", "DropEqual"),
    "modulus": "int", "regex": "str", "replacement": "str", "separator": "str",
    "sourceLabels": "list[str]", "targetLabel": "str",
})
POD_METRICS_ENDPOINT = Obj("PodMetricsEndpoint", {
    "port": "str",
    "portNumber": "int",
    "path": "str",
    "scheme": Enum("http", "https", "HTTP", "HTTPS"),
    "params": MapOf("list[str]"),
    "interval": PROM_DURATION,
    "scrapeTimeout": PROM_DURATION,
    "honorLabels": "bool",
    "honorTimestamps": "bool",
    "relabelings": ListOf(RELABEL_CONFIG),
    "metricRelabelings": ListOf(RELABEL_CONFIG),
    "authorization": Obj("SafeAuthorization", {"type": "str", "credentials": SECRET_KEY_SELECTOR}),
    "bearerTokenSecret": SECRET_KEY_SELECTOR,
    "followRedirects": "bool",
    "enableHttp2": "bool",
    "filterRunning": "bool",
})
POD_MONITOR = Obj("PodMonitor", {
    "apiVersion": "str",
    "kind": "str",
    "metadata": "V1ObjectMeta",
    "spec": Obj("PodMonitorSpec", {
        "jobLabel": "str",
        "podTargetLabels": "list[str]",
        "podMetricsEndpoints": ListOf(POD_METRICS_ENDPOINT),
        "selector": "V1LabelSelector",
        "namespaceSelector": Obj("NamespaceSelector", {"any": "bool", "matchNames": "list[str]"}),
        "sampleLimit": "int",
        "targetLimit": "int",
        "attachMetadata": Obj("AttachMetadata", {"node": "bool"}),
    }, required=["selector"]),
}, required=["spec"])

# kustomize's Kustomization (kustomize.config.k8s.io/v1beta1) and Component (v1alpha1). Every
# top-level field kustomize has is known; the ones this emulation does not implement are errors
# (NOT_EMULATED) rather than silently ignored.
GENERATOR_OPTIONS = Obj("GeneratorOptions", {
    "labels": "dict(str, str)", "annotations": "dict(str, str)",
    "disableNameSuffixHash": "bool", "immutable": "bool",
})
CONFIGMAP_GENERATOR = Obj("ConfigMapArgs", {
    "name": "str", "namespace": "str", "behavior": Enum("create", "replace", "merge"),
    "files": "list[str]", "literals": "list[str]", "envs": "list[str]", "env": "str",
    "options": GENERATOR_OPTIONS,
}, required=["name"])
KUSTOMIZE_FIELDS = {
    "apiVersion": "str", "kind": "str", "metadata": ANY,
    "resources": "list[str]", "components": "list[str]",
    "configMapGenerator": ListOf(CONFIGMAP_GENERATOR), "namespace": "str",
    "generatorOptions": GENERATOR_OPTIONS,
}
NOT_EMULATED = [
    "namePrefix", "nameSuffix", "commonLabels", "labels", "commonAnnotations", "patches",
    "patchesStrategicMerge", "patchesJson6902", "images", "replicas", "replacements", "vars",
    "secretGenerator", "helmCharts", "helmGlobals", "crds", "bases", "configurations",
    "generators", "transformers", "validators", "openapi", "sortOptions", "buildMetadata",
]
for _f in NOT_EMULATED:
    KUSTOMIZE_FIELDS[_f] = ANY
KUSTOMIZATION = Obj("Kustomization", KUSTOMIZE_FIELDS)

SCHEMAS = {
    ("monitoring.coreos.com/v1", "PodMonitor"): POD_MONITOR,
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"): KUSTOMIZATION,
    ("kustomize.config.k8s.io/v1alpha1", "Component"): KUSTOMIZATION,
}

# --- YAML -------------------------------------------------------------------------------------


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and leaves timestamps as strings (as kubectl's
    YAML to JSON conversion does)."""


StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# --- Reporting --------------------------------------------------------------------------------


class Report:
    def __init__(self, root):
        self.root = root
        self.errors = []

    def rel(self, file):
        try:
            return str(Path(file).resolve().relative_to(self.root))
        except ValueError:
            return str(file)

    def error(self, where, path, message):
        parts = [self.rel(where.file) if isinstance(where, Source) else str(where)]
        if isinstance(where, Source) and where.label:
            parts.append(where.label)
        if path:
            parts.append(path)
        line = ": ".join(parts + [message])
        self.errors.append(line)
        print(f"error: {line}", file=sys.stderr, flush=True)

    @staticmethod
    def ok(message):
        print(f"ok:    {message}", flush=True)


class Source:
    """Where a document comes from: its file and a label (Kind/name)."""

    def __init__(self, file, label=""):
        self.file, self.label = Path(file), label


def fmt_path(parts):
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", str(p)):
            out += ("." if out else "") + str(p)
        else:
            out += f"[{p}]"
    return out


def type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "mapping"
    return type(v).__name__


def suggestion(key, known):
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.75)
    return f' (did you mean "{close[0]}"?)' if close else ""


# --- Quantities and sizes ---------------------------------------------------------------------

_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
_QUANTITY_SUFFIX = {
    None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}


def quantity(v):
    """A Kubernetes resource.Quantity ("2", "500m", "1Gi", 2) -> Fraction; None if invalid."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return Fraction(v)
    if not isinstance(v, str):
        return None
    m = _QUANTITY.match(v)
    if not m:
        return None
    number, suffix = Fraction(m.group(1)), m.group(2)
    if suffix and suffix[0] in "eE":
        return number * Fraction(10) ** int(suffix[1:])
    return number * _QUANTITY_SUFFIX[suffix]


def config_size(v):
    """A mapigate.yaml size (512, "10MiB", "1GiB") -> bytes; None if invalid (config/README.md)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    m = re.fullmatch(r"([0-9]+)(B|KiB|MiB|GiB)?", str(v))
    if not m:
        return None
    return int(m.group(1)) * {None: 1, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[m.group(2)]


def mib(n):
    return f"{Fraction(n) / 2**20:g}MiB" if Fraction(n) % 2**20 else f"{Fraction(n) // 2**20}MiB"


# --- Strict walk against the schemas ----------------------------------------------------------

_CONFIG = Configuration()
_CONFIG.client_side_validation = True


class Walker:
    def __init__(self, report, source):
        self.report, self.source = report, source

    def err(self, path, message):
        self.report.error(self.source, fmt_path(path), message)

    def check(self, value, t, path, owner=None):
        """Checks `value` against type `t` (an openapi_types string, a model name or a schema
        node). `owner` is (model, attribute) of the field, for the special cases."""
        if t == ANY:
            return
        if isinstance(t, Obj):
            return self.check_obj(value, t, path)
        if isinstance(t, ListOf):
            return self.check_list(value, t.item, path)
        if isinstance(t, MapOf):
            return self.check_map(value, t.value, path)
        if isinstance(t, Enum):
            if value not in t.values:
                self.err(path, f"{value!r} is not one of {', '.join(map(str, t.values))}")
            return
        if isinstance(t, Pattern):
            if not isinstance(value, str) or not t.regex.match(value):
                self.err(path, f"expected {t.what}, got {value!r}")
            return
        m = re.fullmatch(r"list\[(.+)\]", t)
        if m:
            return self.check_list(value, m.group(1), path, owner)
        m = re.fullmatch(r"dict\(str, (.+)\)", t)
        if m:
            return self.check_map(value, m.group(1), path, owner)
        if owner in QUANTITY_FIELDS:
            if quantity(value) is None:
                self.err(path, f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 256Mi, 1Gi)")
            return
        if t == "str":
            if not isinstance(value, str):
                self.err(path, f"expected string, got {type_name(value)} {value!r}"
                               + (" (quote it)" if isinstance(value, (bool, int, float)) else ""))
            elif owner in BASE64_FIELDS and not re.fullmatch(
                    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?", value):
                self.err(path, "not base64 (use stringData for plain text)")
            return
        if t == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                self.err(path, f"expected int, got {type_name(value)} {value!r}")
            return
        if t == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.err(path, f"expected number, got {type_name(value)} {value!r}")
            return
        if t == "bool":
            if not isinstance(value, bool):
                self.err(path, f"expected bool, got {type_name(value)} {value!r}")
            return
        if t == "datetime":
            if not isinstance(value, str):
                self.err(path, f"expected an RFC 3339 time string, got {type_name(value)}")
            return
        if t == "object":
            if owner in FREE_FORM_FIELDS:
                return
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                self.err(path, f"expected int or string, got {type_name(value)} {value!r}")
            return
        if hasattr(k8s_models, t):
            return self.check_model(value, t, path)
        raise RuntimeError(f"check_kubernetes.py does not know the type {t!r}")

    def check_list(self, value, item, path, owner=None):
        if not isinstance(value, list):
            self.err(path, f"expected a list, got {type_name(value)} {value!r}")
            return
        for i, v in enumerate(value):
            if v is None:
                self.err(path + [i], "null list item")
            else:
                self.check(v, item, path + [i], owner)

    def check_map(self, value, item, path, owner=None):
        if not isinstance(value, dict):
            self.err(path, f"expected a mapping, got {type_name(value)} {value!r}")
            return
        for k, v in value.items():
            if not isinstance(k, str):
                self.err(path + [str(k)], f"key {k!r} is a {type_name(k)}, not a string (quote it)")
            if v is None:
                self.err(path + [str(k)], "null value")
            else:
                self.check(v, item, path + [str(k)], owner)

    def check_model(self, value, cls_name, path):
        cls = getattr(k8s_models, cls_name)
        if not isinstance(value, dict):
            self.err(path, f"expected a mapping ({cls_name}), got {type_name(value)} {value!r}")
            return
        attr_of = {j: a for a, j in cls.attribute_map.items()}
        kwargs = {}
        for key, v in value.items():
            if key not in attr_of:
                self.err(path + [str(key)], f"unknown key{suggestion(key, attr_of)} "
                                            f"({cls_name} has: {', '.join(sorted(attr_of))})")
                continue
            if v is None:  # `key:` with no value: the API server treats it as absent
                continue
            attr = attr_of[key]
            self.check(v, cls.openapi_types[attr], path + [key], (cls_name, attr))
            kwargs[attr] = v
        try:
            cls(local_vars_configuration=_CONFIG, **kwargs)
        except ValueError as e:
            m = re.search(r"Invalid value for `(\w+)`, must not be `None`", str(e))
            if m:
                field = cls.attribute_map.get(m.group(1), m.group(1))
                self.err(path, f"missing required field {field} ({cls_name})")
            else:
                self.err(path, f"{cls_name}: {e}")

    def check_obj(self, value, schema, path):
        if not isinstance(value, dict):
            self.err(path, f"expected a mapping ({schema.name}), got {type_name(value)} {value!r}")
            return
        for key, v in value.items():
            if key not in schema.fields:
                self.err(path + [str(key)], f"unknown key{suggestion(key, schema.fields)} "
                                            f"({schema.name} in check_kubernetes.py has: "
                                            f"{', '.join(sorted(schema.fields))})")
                continue
            if v is not None:
                self.check(v, schema.fields[key], path + [key])
        for r in schema.required:
            if value.get(r) is None:
                self.err(path, f"missing required field {r} ({schema.name})")


def validate_object(report, source, doc):
    """Schema check of one API object (or kustomization file). False: no schema for it."""
    if not isinstance(doc, dict):
        report.error(source, "", f"expected a mapping, got {type_name(doc)}")
        return False
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    for field, v in (("apiVersion", api_version), ("kind", kind)):
        if not isinstance(v, str) or not v:
            report.error(source, field, "missing (every object needs apiVersion and kind)")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return False
    walker = Walker(report, source)
    if (api_version, kind) in KINDS:
        walker.check_model(doc, KINDS[(api_version, kind)], [])
    elif (api_version, kind) in SCHEMAS:
        walker.check_obj(doc, SCHEMAS[(api_version, kind)], [])
    else:
        known = ", ".join(sorted(f"{a} {k}" for a, k in list(KINDS) + list(SCHEMAS)))
        report.error(source, "", f"no schema for apiVersion {api_version} kind {kind} "
                                 f"(check_kubernetes.py knows: {known})")
        return False
    if kind not in ("Kustomization", "Component"):
        name = get(doc, "metadata", "name")
        if not isinstance(name, str) or not name:
            report.error(source, "metadata.name", "missing")
    return True


# --- Files and the kustomize emulation --------------------------------------------------------


def load_docs(report, file):
    """The documents of a YAML file (empty ones dropped); [] after reporting a parse error."""
    try:
        with open(file, encoding="utf-8") as f:
            return [d for d in yaml.load_all(f, Loader=StrictLoader) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        report.error(Source(file), "", f"cannot read: {e}")
        return []


def label_of(doc):
    if isinstance(doc, dict):
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        return f"{doc.get('kind', '?')}/{meta.get('name', '?')}"
    return ""


class ApiObject:
    """One API object of the build."""

    def __init__(self, source, doc):
        self.source, self.doc = source, doc

    @property
    def kind(self):
        return self.doc.get("kind") if isinstance(self.doc, dict) else None

    @property
    def name(self):
        meta = self.doc.get("metadata") if isinstance(self.doc, dict) else None
        return meta.get("name") if isinstance(meta, dict) else None


def config_map_hash(cm):
    """A content hash suffix, like kustomize's (not byte-identical to it: only its role matters
    here, a new name for new content)."""
    encoded = json.dumps({"kind": cm["kind"], "name": cm["metadata"]["name"],
                          "data": cm.get("data", {})}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(encoded.encode()).hexdigest()
    return "".join({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}.get(c, c)
                   for c in digest[:10])


class Kustomization:
    """Result of emulating one kustomization directory."""

    def __init__(self):
        self.objects = []        # ApiObject
        self.used_files = set()  # every file it reads: itself, resources, generator inputs
        self.generated = {}      # generator name -> generated ConfigMap name
        self.config_files = {}   # generator name -> {data key: file}
        self.disabled_hash = set()


def emulate(report, kdir, expect_kind, extra_components=(), seen=None):
    """Reads kdir/kustomization.yaml (of kind `expect_kind`) with its resources, generators and
    components (plus `extra_components`)."""
    result = Kustomization()
    seen = set() if seen is None else seen
    kfile = kdir / "kustomization.yaml"
    if kfile.resolve() in seen:
        report.error(Source(kfile), "", "included twice")
        return result
    seen.add(kfile.resolve())
    result.used_files.add(kfile.resolve())
    docs = load_docs(report, kfile)
    if len(docs) != 1:
        report.error(Source(kfile), "", f"expected one document, found {len(docs)}")
        return result
    k = docs[0]
    source = Source(kfile, expect_kind)
    if not validate_object(report, source, k):
        return result
    if k.get("kind") != expect_kind:
        report.error(source, "kind", f"expected {expect_kind}, got {k.get('kind')}")
        return result
    for field in NOT_EMULATED:
        if field in k:
            report.error(source, field, "a kustomize field that check_kubernetes.py does not "
                                        "emulate: extend the script before using it")

    for i, r in enumerate(k.get("resources") or []):
        if not isinstance(r, str):
            continue
        f = kdir / r
        if not f.is_file():
            report.error(source, f"resources[{i}]", f"{r}: not a file (directories and remote "
                                                    "resources are not emulated)")
            continue
        result.used_files.add(f.resolve())
        for d in load_docs(report, f):
            result.objects.append(ApiObject(Source(f, label_of(d)), d))

    options = k.get("generatorOptions") or {}
    for i, g in enumerate(k.get("configMapGenerator") or []):
        if not isinstance(g, dict) or not isinstance(g.get("name"), str):
            continue
        gpath = f"configMapGenerator[{i}]"
        for unsupported in ("envs", "env", "behavior"):
            if unsupported in g:
                report.error(source, f"{gpath}.{unsupported}",
                             "not emulated by check_kubernetes.py")
        data, files = {}, {}
        for j, entry in enumerate(g.get("files") or []):
            if not isinstance(entry, str):
                continue
            key, _, path = entry.rpartition("=")
            key = key or Path(path).name
            f = kdir / path
            if not f.is_file():
                report.error(source, f"{gpath}.files[{j}]", f"{path}: no such file")
                continue
            result.used_files.add(f.resolve())
            if key in data:
                report.error(source, f"{gpath}.files[{j}]", f"data key {key} twice")
            data[key] = f.read_text(encoding="utf-8")
            files[key] = f
        for j, lit in enumerate(g.get("literals") or []):
            if isinstance(lit, str) and "=" in lit:
                key, _, value = lit.partition("=")
                data[key] = value
            else:
                report.error(source, f"{gpath}.literals[{j}]", "expected KEY=VALUE")
        opts = {**options, **(g.get("options") or {})}
        cm = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": g["name"]}, "data": data}
        if opts.get("labels"):
            cm["metadata"]["labels"] = dict(opts["labels"])
        if opts.get("annotations"):
            cm["metadata"]["annotations"] = dict(opts["annotations"])
        if opts.get("immutable"):
            cm["immutable"] = True
        if opts.get("disableNameSuffixHash"):
            result.disabled_hash.add(g["name"])
        else:
            cm["metadata"]["name"] = f"{g['name']}-{config_map_hash(cm)}"
        result.generated[g["name"]] = cm["metadata"]["name"]
        result.config_files[g["name"]] = files
        result.objects.append(ApiObject(Source(kfile, f"ConfigMap/{cm['metadata']['name']} "
                                                  f"(configMapGenerator {g['name']})"), cm))

    components = [(kdir / c, f"components[{i}]") for i, c in enumerate(k.get("components") or [])
                  if isinstance(c, str)]
    components += [(c, "(optional component, checked as if enabled)") for c in extra_components
                   if c.resolve() not in {d.resolve() for d, _ in components}]
    for cdir, where in components:
        if not (cdir / "kustomization.yaml").is_file():
            report.error(source, where, f"{cdir}: no kustomization.yaml")
            continue
        sub = emulate(report, cdir, "Component", seen=seen)
        result.objects += sub.objects
        result.used_files |= sub.used_files
        result.generated.update(sub.generated)
        result.config_files.update(sub.config_files)
        result.disabled_hash |= sub.disabled_hash

    # kustomize's name reference: pod templates naming a generated ConfigMap get its new name.
    for o in result.objects:
        for spec in pod_specs(o.doc):
            for ref in config_map_refs(spec):
                if ref.get("name") in result.generated:
                    ref["name"] = result.generated[ref["name"]]
    ns = k.get("namespace")
    if isinstance(ns, str):
        for o in result.objects:
            if isinstance(o.doc, dict) and isinstance(o.doc.get("metadata"), dict):
                o.doc["metadata"]["namespace"] = ns
    return result


def pod_specs(doc):
    """The pod spec(s) of a workload object, as mutable dicts."""
    if not isinstance(doc, dict):
        return []
    spec = doc.get("spec")
    if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        t = spec.get("template") if isinstance(spec, dict) else None
        s = t.get("spec") if isinstance(t, dict) else None
        return [s] if isinstance(s, dict) else []
    if doc.get("kind") == "Pod" and isinstance(spec, dict):
        return [spec]
    return []


def containers_of(spec):
    return [c for key in ("initContainers", "containers") for c in (spec.get(key) or [])
            if isinstance(c, dict)]


def config_map_refs(spec):
    """Every mapping in a pod spec whose `name` names a ConfigMap."""
    refs = []
    for v in spec.get("volumes") or []:
        if isinstance(v, dict) and isinstance(v.get("configMap"), dict):
            refs.append(v["configMap"])
        if isinstance(v, dict) and isinstance(v.get("projected"), dict):
            for s in v["projected"].get("sources") or []:
                if isinstance(s, dict) and isinstance(s.get("configMap"), dict):
                    refs.append(s["configMap"])
    for c in containers_of(spec):
        for e in c.get("envFrom") or []:
            if isinstance(e, dict) and isinstance(e.get("configMapRef"), dict):
                refs.append(e["configMapRef"])
        for e in c.get("env") or []:
            vf = e.get("valueFrom") if isinstance(e, dict) else None
            if isinstance(vf, dict) and isinstance(vf.get("configMapKeyRef"), dict):
                refs.append(vf["configMapKeyRef"])
    return refs


# --- Cross-checks -----------------------------------------------------------------------------


def get(d, *keys):
    for k in keys:
        if isinstance(d, dict):
            d = d.get(k)
        elif isinstance(d, list) and isinstance(k, int) and 0 <= k < len(d):
            d = d[k]
        else:
            return None
    return d


def port_of(address):
    try:
        return int(str(address).rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


def selects(selector, labels):
    """matchLabels of `selector` all present in `labels` (matchExpressions are not used here)."""
    ml = get(selector, "matchLabels")
    if not isinstance(ml, dict) or not ml or get(selector, "matchExpressions"):
        return False
    return all(isinstance(labels, dict) and labels.get(k) == v for k, v in ml.items())


class CrossChecks:
    def __init__(self, report, build, secret_templates):
        self.report, self.build = report, build
        self.secret_templates = secret_templates  # ApiObject of the Secret template file(s)

    def fail(self, obj, path, message):
        self.report.error(obj.source if obj else "deploy/kubernetes", path, message)

    def run(self):
        deployments = [o for o in self.build.objects if o.kind == "Deployment"]
        if len(deployments) != 1:
            self.fail(None, "", f"expected one Deployment in the build, found {len(deployments)}")
            return
        self.dep = dep = deployments[0]
        self.spec = get(dep.doc, "spec", "template", "spec") or {}
        self.labels = get(dep.doc, "spec", "template", "metadata", "labels") or {}
        cs = self.spec.get("containers") or []
        if len(cs) != 1 or not isinstance(cs[0], dict):
            self.fail(dep, "spec.template.spec.containers", "expected exactly one container")
            return
        self.c = cs[0]
        self.cpath = "spec.template.spec.containers[0]"
        self.config = self.load_config()
        if self.config is None:
            return
        for check in (self.check_placeholder_secret_not_applied, self.check_probes,
                      self.check_server_name, self.check_workers, self.check_log_budget,
                      self.check_secret):
            self.section(check)
        for o in self.build.objects:
            if o.kind == "PodMonitor":
                self.section(self.check_pod_monitor, o)
            elif o.kind == "NetworkPolicy":
                self.section(self.check_network_policy, o)
            elif o.kind in ("Service", "PodDisruptionBudget"):
                self.section(self.check_selector, o)

    def section(self, check, *args):
        """Runs one check; prints the message it returns when it found no error."""
        before = len(self.report.errors)
        message = check(*args)
        if message and len(self.report.errors) == before:
            self.report.ok(message)

    def check_selector(self, o):
        sel = get(o.doc, "spec", "selector")
        if o.kind == "Service":
            sel = {"matchLabels": sel}
        if not selects(sel, self.labels):
            self.fail(o, "spec.selector", "does not select the Deployment's pods")
        return f"{o.kind} {o.name}: selects the Deployment's pods"

    # The volume mounted over `path` in the container: (mount, volume) of the longest mountPath.
    def mount_of(self, path):
        best = None
        for vm in self.c.get("volumeMounts") or []:
            mp = vm.get("mountPath") if isinstance(vm, dict) else None
            if not isinstance(mp, str) or not (path == mp or path.startswith(mp.rstrip("/") + "/")):
                continue
            if best and len(best[0]["mountPath"]) >= len(mp):
                continue
            vol = next((v for v in self.spec.get("volumes") or []
                        if isinstance(v, dict) and v.get("name") == vm.get("name")), None)
            best = (vm, vol)
        return best

    def container_ports(self):
        return {p.get("name"): p.get("containerPort") for p in self.c.get("ports") or []
                if isinstance(p, dict)}

    def resolve_port(self, port):
        if isinstance(port, int):
            return port
        return self.container_ports().get(port)

    def load_config(self):
        """mapigate.yaml as the pod reads it: the file after `-c`, through its volume."""
        args = self.c.get("args") or []
        if not isinstance(args, list) or "-c" not in args or args.index("-c") + 1 >= len(args):
            self.fail(self.dep, f"{self.cpath}.args", "no `-c CONFIG`")
            return None
        path = args[args.index("-c") + 1]
        m = self.mount_of(path)
        if not m or not m[1] or not isinstance(m[1].get("configMap"), dict):
            self.fail(self.dep, f"{self.cpath}.args", f"{path} is not mounted from a ConfigMap")
            return None
        vm, vol = m
        key = vm.get("subPath") or path[len(vm["mountPath"]):].lstrip("/")
        cm_name = vol["configMap"].get("name")
        generators = {v: k for k, v in self.build.generated.items()}
        if cm_name not in generators:
            self.fail(self.dep, "spec.template.spec.volumes", f"ConfigMap {cm_name} of {path} is "
                      "not generated by kustomization.yaml's configMapGenerator (a change would "
                      "not roll the pods)")
            return None
        gen = generators[cm_name]
        if gen in self.build.disabled_hash:
            self.fail(self.dep, "spec.template.spec.volumes", f"configMapGenerator {gen} has "
                      "disableNameSuffixHash: a config change would not roll the pods")
        file = self.build.config_files.get(gen, {}).get(key)
        if file is None:
            self.fail(self.dep, "spec.template.spec.volumes", f"ConfigMap {gen} has no key {key}")
            return None
        docs = load_docs(self.report, file)
        if len(docs) != 1 or not isinstance(docs[0], dict):
            self.report.error(Source(file), "", "expected one mapping (mapigate.yaml)")
            return None
        self.config_file = file
        self.report.ok(f"{self.report.rel(file)} is {path} via ConfigMap {cm_name}")
        return docs[0]

    def check_placeholder_secret_not_applied(self):
        for o in self.build.objects:
            if o.kind != "Secret":
                continue
            values = list((get(o.doc, "stringData") or {}).values())
            if any("REPLACE-ME" in str(v) for v in values) or o.source.file in {
                    t.source.file for t in self.secret_templates}:
                self.fail(o, "", "the placeholder Secret is applied by the kustomization: "
                                 "mapigate would crash-loop on it (keep it out of resources)")

    def check_probes(self):
        admin_port = port_of(get(self.config, "admin", "address"))
        for probe, want in (("readinessProbe", READINESS_PATH), ("livenessProbe", LIVENESS_PATH)):
            p = f"{self.cpath}.{probe}.httpGet"
            get_ = get(self.c, probe, "httpGet")
            if not isinstance(get_, dict):
                self.fail(self.dep, p, "missing")
                continue
            if get_.get("path") != want:
                self.fail(self.dep, f"{p}.path", f"{get_.get('path')!r}, expected {want!r}"
                          + (" (backends down must not empty the Service)"
                             if probe == "readinessProbe" else ""))
            port = self.resolve_port(get_.get("port"))
            if port != admin_port:
                self.fail(self.dep, f"{p}.port", f"{get_.get('port')!r} is not admin.address "
                                                 f"port {admin_port}")
        return f"probes: readiness {READINESS_PATH}, liveness {LIVENESS_PATH} on port {admin_port}"

    def check_server_name(self):
        env = [e for e in self.c.get("env") or [] if isinstance(e, dict)
               and e.get("name") == SERVER_NAME_ENV]
        if len(env) != 1 or get(env[0], "valueFrom", "fieldRef", "fieldPath") != "metadata.name":
            self.fail(self.dep, f"{self.cpath}.env", f"needs {SERVER_NAME_ENV} from the downward "
                      "API (valueFrom.fieldRef.fieldPath: metadata.name)")
        args = self.c.get("args") or []
        ok = any(args[i] == "--server-name" and args[i + 1] == f"$({SERVER_NAME_ENV})"
                 for i in range(len(args) - 1))
        if not ok:
            self.fail(self.dep, f"{self.cpath}.args", f'needs "--server-name", '
                      f'"$({SERVER_NAME_ENV})": one ServerHostName per pod')
        return f"--server-name $({SERVER_NAME_ENV}) from metadata.name"

    def check_workers(self):
        workers = self.config.get("workers", 0)
        cpu_text = get(self.c, "resources", "requests", "cpu")
        cpu = quantity(cpu_text) if cpu_text is not None else None
        where = f"{self.cpath}.resources.requests.cpu"
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            self.report.error(Source(self.config_file), "workers",
                              f"{workers!r}: set it to the CPU request (0: every CPU of the node)")
        elif cpu is None:
            self.fail(self.dep, where, "missing: one CPU per worker")
        elif cpu != workers:
            self.fail(self.dep, where, f"{cpu_text!r} but mapigate.yaml has workers: {workers} "
                      "(one worker per requested CPU)")
        return f"workers: {workers} = requests.cpu {cpu_text!r}"

    def check_log_budget(self):
        logs = self.config.get("logs")
        if not isinstance(logs, dict):
            return "no HttpProxy logs: no log volume to size"
        src = Source(self.config_file)
        file_size = config_size(logs.get("max_file_size", DEFAULT_MAX_FILE_SIZE))
        dir_size = config_size(logs.get("max_directory_size", DEFAULT_MAX_DIRECTORY_SIZE))
        for key, v in (("max_file_size", file_size), ("max_directory_size", dir_size)):
            if v is None:
                self.report.error(src, f"logs.{key}", f"{logs.get(key)!r} is not a size")
        directory = logs.get("directory")
        m = self.mount_of(directory) if isinstance(directory, str) else None
        if not m or not m[1]:
            self.fail(self.dep, f"{self.cpath}.volumeMounts", f"logs.directory {directory} is not "
                                                              "on a volume")
            return
        vol = m[1]
        if not isinstance(vol.get("emptyDir"), dict):
            self.fail(self.dep, "spec.template.spec.volumes", f"volume {vol.get('name')} of "
                      f"{directory} is not an emptyDir: check its size against the log budget")
            return
        limit_text = vol["emptyDir"].get("sizeLimit")
        limit = quantity(limit_text) if limit_text is not None else None
        if limit is None:
            self.fail(self.dep, "spec.template.spec.volumes", f"emptyDir {vol.get('name')} has no "
                      "sizeLimit: the logs could fill the node's disk")
            return
        if file_size is None or dir_size is None:
            return
        n = len(LOG_PROTOCOL_FOLDERS)
        need = dir_size + n * file_size
        text = (f"logs.max_directory_size {mib(dir_size)} + {n} x max_file_size {mib(file_size)} "
                f"= {mib(need)}")
        if need > limit:
            self.fail(self.dep, "spec.template.spec.volumes", f"{text} exceeds emptyDir "
                      f"{vol.get('name')} sizeLimit {limit_text} ({mib(limit)}): the kubelet "
                      "would evict the pod")
        else:
            return f"{text} <= sizeLimit {limit_text} ({mib(limit - need)} to spare)"

    def secret_keys(self, name):
        """Keys of the Secret `name`: from the template file (the real one is made by hand)."""
        for t in self.secret_templates + [o for o in self.build.objects if o.kind == "Secret"]:
            if t.name == name:
                return set(get(t.doc, "stringData") or {}) | set(get(t.doc, "data") or {})
        return None

    def check_secret(self):
        if not self.secret_templates:
            self.fail(None, "", "no Secret template (secret.yaml) listing the Secret's keys")
            return
        files = []
        for listener in self.config.get("listeners") or []:
            for c in get(listener, "tls", "certificates") or []:
                files += [get(c, "cert"), get(c, "key")]
            files += get(listener, "tls", "ticket_key_files") or []
        for b in self.config.get("backends") or []:
            files.append(get(b, "tls", "ca"))
        files += get(self.config, "affinity", "key_files") or []
        files.append(get(self.config, "admin", "token_file"))
        checked = 0
        for f in filter(None, files):
            m = self.mount_of(f)
            vol = m[1] if m else None
            name = get(vol, "secret", "secretName")
            if not name:
                self.fail(self.dep, f"{self.cpath}.volumeMounts", f"{f} (mapigate.yaml) is not "
                                                                  "mounted from a Secret")
                continue
            keys = self.secret_keys(name)
            key = f[len(m[0]["mountPath"]):].lstrip("/")
            if keys is None:
                self.fail(self.dep, "spec.template.spec.volumes", f"no template of Secret {name}")
            elif key not in keys:
                self.fail(self.secret_templates[0], "stringData", f"no key {key} ({f} in "
                                                                 "mapigate.yaml)")
            else:
                checked += 1
        return f"{checked} files of mapigate.yaml are keys of the Secret template"

    def check_pod_monitor(self, o):
        if not selects(get(o.doc, "spec", "selector"), self.labels):
            self.fail(o, "spec.selector", "does not select the Deployment's pods")
        admin_port = port_of(get(self.config, "admin", "address"))
        for i, ep in enumerate(get(o.doc, "spec", "podMetricsEndpoints") or []):
            p = f"spec.podMetricsEndpoints[{i}]"
            if self.container_ports().get(get(ep, "port")) != admin_port:
                self.fail(o, f"{p}.port", f"{get(ep, 'port')!r} is not the name of the container "
                                          f"port {admin_port} (admin.address)")
            if get(ep, "path") != "/metrics":
                self.fail(o, f"{p}.path", "expected /metrics")
            if get(self.config, "admin", "token_file"):
                cred = get(ep, "authorization", "credentials")
                if str(get(ep, "authorization", "type") or "Bearer").lower() != "bearer" or \
                        not isinstance(cred, dict):
                    self.fail(o, f"{p}.authorization", "admin.token_file is set: /metrics needs "
                                                       "a Bearer token")
                    continue
                keys = self.secret_keys(cred.get("name"))
                if keys is None or cred.get("key") not in keys:
                    self.fail(o, f"{p}.authorization.credentials", f"Secret {cred.get('name')} "
                                                                   f"has no key {cred.get('key')}")
        return f"PodMonitor {o.name}: selects the pods, scrapes the admin port"

    def check_network_policy(self, o):
        if not selects(get(o.doc, "spec", "podSelector"), self.labels):
            self.fail(o, "spec.podSelector", "does not select the Deployment's pods")
        types = get(o.doc, "spec", "policyTypes") or ["Ingress"]
        if "Ingress" not in types:
            return
        rules = get(o.doc, "spec", "ingress") or []
        for name, number in self.container_ports().items():
            allowed = [r for r in rules if isinstance(r, dict) and (
                not r.get("ports") or any(self.resolve_port(get(p, "port")) == number
                                          or get(p, "port") == name for p in r.get("ports")))]
            if not allowed:
                self.fail(o, "spec.ingress", f"no rule allows container port {name} ({number}): "
                                             "the policy would block it")
            elif number == port_of(get(self.config, "admin", "address")) and any(
                    not r.get("from") for r in allowed):
                self.fail(o, "spec.ingress", f"the admin port {number} is open to every source")
        return f"NetworkPolicy {o.name}: selects the pods, allows every container port"


# --- Main -------------------------------------------------------------------------------------


def run(root):
    root = Path(root).resolve()
    report = Report(root)
    kdir = root / "deploy" / "kubernetes"
    if not (kdir / "kustomization.yaml").is_file():
        report.error(kdir, "", "no kustomization.yaml")
        return report

    all_yaml = sorted(p.resolve() for p in kdir.rglob("*") if p.suffix in (".yaml", ".yml")
                      and p.is_file())
    component_dirs = sorted(p.parent for p in all_yaml if p.name == "kustomization.yaml"
                            and p.parent != kdir.resolve())
    build = emulate(report, kdir, "Kustomization", extra_components=component_dirs)

    # Files no kustomization uses: only the Secret template may be one (it must be).
    secret_templates = []
    for f in all_yaml:
        if f in build.used_files:
            continue
        docs = load_docs(report, f)
        if docs and all(isinstance(d, dict) and d.get("kind") == "Secret" for d in docs):
            for d in docs:
                o = ApiObject(Source(f, label_of(d) + " (template, not applied)"), copy.deepcopy(d))
                validate_object(report, o.source, d)
                secret_templates.append(o)
        else:
            report.error(Source(f), "", "not used by kustomization.yaml nor by a component "
                                        "(list it in resources, or delete it)")

    objects = 0
    for o in build.objects:
        if validate_object(report, o.source, o.doc):
            objects += 1
    names = {}
    for o in build.objects:
        key = (o.doc.get("apiVersion") if isinstance(o.doc, dict) else None, o.kind, o.name)
        if key in names:
            report.error(o.source, "metadata.name", f"{o.kind}/{o.name} also in "
                                                    f"{report.rel(names[key].file)}")
        names[key] = o.source
    print(f"schema: {objects} objects (with every optional component) and "
          f"{len(secret_templates)} Secret template(s) walked against the Kubernetes 1.22 schema "
          "and check_kubernetes.py's own schemas", flush=True)
    CrossChecks(report, build, secret_templates).run()
    return report


def main(argv):
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    report = run(argv[1])
    if report.errors:
        print(f"check_kubernetes.py: {len(report.errors)} error(s)", file=sys.stderr)
        return 1
    print("check_kubernetes.py: no errors")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
