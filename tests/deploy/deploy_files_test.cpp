// The files in deploy/ parse, and the Kubernetes manifests agree with each other and with the
// mapigate.yaml they ship: probes hit the admin listener, the grace period covers preStop plus
// the drain, the pod runs as non-root, selectors and ports line up, every path the config names
// is mounted, and kustomize uses every file but the Secret template, which it must not apply.
// (tests/deploy/check_kubernetes.py validates the same files against the Kubernetes schema.)
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path deploy_dir = fs::path(MAPIGATE_SOURCE_DIR) / "deploy";
const fs::path k8s_dir = deploy_dir / "kubernetes";

// Every regular file under `dir` (recursively) whose extension is one of `exts`, sorted.
std::vector<fs::path> files_under(const fs::path& dir, std::initializer_list<std::string> exts) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() &&
        std::find(exts.begin(), exts.end(), e.path().extension().string()) != exts.end()) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string rel(const fs::path& p) {
  return fs::relative(p, MAPIGATE_SOURCE_DIR).string();
}

YAML::Node undefined() {
  return YAML::Node(YAML::NodeType::Undefined);
}

// node[k0][k1]...; an Undefined node (false, not a map or sequence, never throwing) when a key
// is missing or a step is not a map. Used for every lookup that may miss.
YAML::Node at(const YAML::Node& node, std::initializer_list<std::string> keys) {
  YAML::Node cur = node;  // a handle: reset() rebinds it, assignment would write into the tree
  for (const auto& k : keys) {
    if (!cur || !cur.IsMap()) return undefined();
    const YAML::Node& c = cur;  // const operator[] never inserts
    const YAML::Node next = c[k];
    if (!next) return undefined();
    cur.reset(next);
  }
  return cur;
}

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

std::string str(const YAML::Node& n) {
  return n && n.IsScalar() ? n.Scalar() : std::string();
}

// "30s", "500ms", "2m", "1h" -> seconds (rounded up); nullopt when not a duration.
std::optional<long> seconds_of(const std::string& text) {
  static const std::vector<std::pair<std::string, double>> units = {
      {"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  for (const auto& [unit, factor] : units) {
    if (text.size() > unit.size() && text.ends_with(unit)) {
      const auto digits = text.substr(0, text.size() - unit.size());
      if (!all_digits(digits)) continue;
      const double s = std::stod(digits) * factor;
      return static_cast<long>(s) + (s > static_cast<long>(s) ? 1 : 0);
    }
  }
  return std::nullopt;
}

// --- Every YAML and JSON file ------------------------------------------------------------------

TEST(deploy_files, every_yaml_file_parses) {
  const auto files = files_under(deploy_dir, {".yaml", ".yml"});
  ASSERT_FALSE(files.empty()) << "no YAML files under " << deploy_dir;
  for (const auto& f : files) {
    SCOPED_TRACE(rel(f));
    std::vector<YAML::Node> docs;
    ASSERT_NO_THROW(docs = YAML::LoadAllFromFile(f.string()));
    ASSERT_FALSE(docs.empty());
    for (const auto& d : docs)
      EXPECT_TRUE(d.IsMap()) << "a document is not a mapping";
  }
}

TEST(deploy_files, every_json_file_is_a_dashboard_with_panels) {
  const auto files = files_under(deploy_dir, {".json"});
  ASSERT_FALSE(files.empty()) << "no JSON files under " << deploy_dir;
  for (const auto& f : files) {
    SCOPED_TRACE(rel(f));
    YAML::Node doc;  // JSON is YAML: yaml-cpp reads it as a flow mapping
    ASSERT_NO_THROW(doc = YAML::LoadFile(f.string()));
    ASSERT_TRUE(doc.IsMap());
    const auto panels = at(doc, {"panels"});
    ASSERT_TRUE(panels.IsSequence()) << "no \"panels\" list";
    EXPECT_GT(panels.size(), 0u);
  }
}

// --- Kubernetes manifests ----------------------------------------------------------------------

// One `files` entry of a configMapGenerator: "KEY=PATH", or "PATH" whose file name is the key.
struct generator_file {
  std::string key;
  fs::path path;  // relative to the kustomization's directory
};

generator_file parse_generator_file(const std::string& entry) {
  const auto eq = entry.find('=');
  if (eq != std::string::npos) return {entry.substr(0, eq), entry.substr(eq + 1)};
  return {fs::path(entry).filename().string(), entry};
}

bool is_kustomization_file(const fs::path& f) {
  return f.filename() == "kustomization.yaml" || f.filename() == "kustomization.yml";
}

// What the kustomization files (deploy/kubernetes/kustomization.yaml and its optional
// components, components/*/kustomization.yaml) read, relative to deploy/kubernetes: their
// resources, and the inputs of their configMapGenerators (data such as mapigate.yaml, not
// manifests).
struct kustomize_inputs {
  std::set<std::string> resources;
  std::set<std::string> generator_files;
};

kustomize_inputs kustomize_reads() {
  kustomize_inputs out;
  for (const auto& k : files_under(k8s_dir, {".yaml", ".yml"})) {
    if (!is_kustomization_file(k)) continue;
    const auto doc = YAML::LoadFile(k.string());
    const auto dir = k.parent_path();
    for (const auto& r : at(doc, {"resources"}))
      out.resources.insert(fs::relative(dir / r.Scalar(), k8s_dir).string());
    for (const auto& g : at(doc, {"configMapGenerator"})) {
      for (const auto& f : at(g, {"files"})) {
        const auto entry = parse_generator_file(f.Scalar());
        out.generator_files.insert(fs::relative(dir / entry.path, k8s_dir).string());
      }
    }
  }
  return out;
}

struct manifest {
  fs::path file;
  YAML::Node doc;
};

// Every document of every YAML file in deploy/kubernetes but the configMapGenerator inputs.
const std::vector<manifest>& manifests() {
  static const std::vector<manifest> all = [] {
    const auto data = kustomize_reads().generator_files;
    std::vector<manifest> out;
    for (const auto& f : files_under(k8s_dir, {".yaml", ".yml"})) {
      if (data.contains(fs::relative(f, k8s_dir).string())) continue;
      for (const auto& d : YAML::LoadAllFromFile(f.string()))
        out.push_back({f, d});
    }
    return out;
  }();
  return all;
}

// The one object of `kind`; fails the test (and returns an undefined node) when there are 0 or 2+.
YAML::Node one(const std::string& kind) {
  std::vector<YAML::Node> found;
  for (const auto& m : manifests()) {
    if (str(at(m.doc, {"kind"})) == kind) found.push_back(m.doc);
  }
  EXPECT_EQ(found.size(), 1u) << "expected exactly one " << kind << " in " << k8s_dir;
  return found.size() == 1 ? found.front() : undefined();
}

std::map<std::string, std::string> string_map(const YAML::Node& n) {
  std::map<std::string, std::string> out;
  if (n.IsMap()) {
    for (const auto& kv : n)
      out[kv.first.Scalar()] = str(kv.second);
  }
  return out;
}

// Every label of `selector` is present, with the same value, in `labels`.
::testing::AssertionResult selects(const YAML::Node& selector, const YAML::Node& labels) {
  const auto sel = string_map(selector);
  const auto lab = string_map(labels);
  if (sel.empty()) return ::testing::AssertionFailure() << "empty selector";
  for (const auto& [k, v] : sel) {
    const auto it = lab.find(k);
    if (it == lab.end() || it->second != v) {
      return ::testing::AssertionFailure()
             << "selector " << k << "=" << v << " does not match the pod template's labels";
    }
  }
  return ::testing::AssertionSuccess();
}

YAML::Node pod_spec() {
  return at(one("Deployment"), {"spec", "template", "spec"});
}
YAML::Node pod_labels() {
  return at(one("Deployment"), {"spec", "template", "metadata", "labels"});
}
YAML::Node container() {
  const auto cs = at(pod_spec(), {"containers"});
  EXPECT_TRUE(cs.IsSequence() && cs.size() == 1) << "expected exactly one container";
  return cs.IsSequence() && cs.size() >= 1 ? cs[0] : undefined();
}

// A container port given as a number or by name -> its number (nullopt: no such port).
std::optional<int> resolve_port(const YAML::Node& port) {
  for (const auto& p : at(container(), {"ports"})) {
    const int number = at(p, {"containerPort"}).as<int>(-1);
    if (str(port) == std::to_string(number) || str(port) == str(at(p, {"name"}))) return number;
  }
  return std::nullopt;
}

// mapigate.yaml as shipped: the file that kustomization.yaml's configMapGenerator turns into the
// ConfigMap the pods mount (data key mapigate.yaml).
YAML::Node shipped_config() {
  for (const auto& g : at(one("Kustomization"), {"configMapGenerator"})) {
    for (const auto& f : at(g, {"files"})) {
      const auto entry = parse_generator_file(f.Scalar());
      if (entry.key == "mapigate.yaml") return YAML::LoadFile((k8s_dir / entry.path).string());
    }
  }
  ADD_FAILURE() << "no configMapGenerator of kustomization.yaml makes a key mapigate.yaml";
  return undefined();
}

int port_of(const std::string& address) {
  return std::stoi(address.substr(address.rfind(':') + 1));
}

TEST(kubernetes, every_object_has_api_version_kind_and_name) {
  ASSERT_FALSE(manifests().empty()) << "no manifests in " << k8s_dir;
  for (const auto& m : manifests()) {
    SCOPED_TRACE(rel(m.file));
    EXPECT_FALSE(str(at(m.doc, {"apiVersion"})).empty());
    EXPECT_FALSE(str(at(m.doc, {"kind"})).empty());
    const auto kind = str(at(m.doc, {"kind"}));
    if (kind == "Kustomization" || kind == "Component") continue;  // kustomize's: no metadata
    EXPECT_FALSE(str(at(m.doc, {"metadata", "name"})).empty());
  }
}

// Every file is a resource or a configMapGenerator input of kustomization.yaml or of one of its
// optional components, except the Secret template: kustomize must not apply its REPLACE-ME
// example values (mapigate would crash-loop on them) nor overwrite the real Secret.
TEST(kubernetes, kustomization_lists_every_manifest) {
  const auto reads = kustomize_reads();
  std::set<std::string> secret_templates;
  for (const auto& m : manifests()) {
    if (str(at(m.doc, {"kind"})) == "Secret")
      secret_templates.insert(fs::relative(m.file, k8s_dir).string());
  }
  for (const auto& s : secret_templates)
    EXPECT_FALSE(reads.resources.contains(s)) << s << " must not be a kustomize resource";

  std::set<std::string> listed = reads.resources;
  listed.insert(reads.generator_files.begin(), reads.generator_files.end());
  std::set<std::string> present;
  for (const auto& f : files_under(k8s_dir, {".yaml", ".yml"})) {
    const auto r = fs::relative(f, k8s_dir).string();
    if (!is_kustomization_file(f) && !secret_templates.contains(r)) present.insert(r);
  }
  for (const auto& s : secret_templates)
    listed.erase(s);
  EXPECT_EQ(listed, present);
}

struct probe_case {
  std::string probe;
  std::string path;
  int port;
};

TEST(kubernetes, probes_hit_the_admin_listener) {
  const auto c = container();
  const int admin_port = port_of(str(at(shipped_config(), {"admin", "address"})));
  for (const auto& [probe, path, port] : std::vector<probe_case>{
           // Backends excluded: an Exchange outage must not empty the Service (deployment.yaml).
           {"readinessProbe", "/readyz?exclude=backends", 9464},
           {"livenessProbe", "/healthz", 9464},
       }) {
    SCOPED_TRACE(probe);
    const auto get = at(c, {probe, "httpGet"});
    ASSERT_TRUE(get.IsMap()) << "no httpGet probe";
    EXPECT_EQ(str(at(get, {"path"})), path);
    EXPECT_EQ(resolve_port(at(get, {"port"})), port);
    EXPECT_EQ(admin_port, port) << "admin.address in mapigate.yaml";
  }
}

// Seconds of the preStop hook: exec [... "sleep", "N"] or ["sh", "-c", "sleep N"], or
// sleep.seconds.
std::optional<long> pre_stop_seconds(const YAML::Node& pre_stop) {
  if (const auto s = at(pre_stop, {"sleep", "seconds"})) return s.as<long>();
  const auto cmd = at(pre_stop, {"exec", "command"});
  if (!cmd.IsSequence() || cmd.size() == 0) return std::nullopt;
  std::string last = cmd[cmd.size() - 1].Scalar();
  if (const auto pos = last.rfind(' '); pos != std::string::npos) last = last.substr(pos + 1);
  if (!all_digits(last)) return std::nullopt;
  return std::stol(last);
}

TEST(kubernetes, grace_period_covers_pre_stop_and_drain) {
  const auto pre_stop = at(container(), {"lifecycle", "preStop"});
  ASSERT_TRUE(pre_stop.IsMap()) << "no preStop hook: the Service keeps sending to a draining pod";
  const auto sleep = pre_stop_seconds(pre_stop);
  ASSERT_TRUE(sleep.has_value()) << "preStop does not sleep a number of seconds";

  const auto drain_text = str(at(shipped_config(), {"timeouts", "drain"}));
  const auto drain = drain_text.empty() ? std::optional<long>(30) : seconds_of(drain_text);
  ASSERT_TRUE(drain.has_value()) << "timeouts.drain '" << drain_text << "'";

  const auto grace = at(pod_spec(), {"terminationGracePeriodSeconds"});
  ASSERT_TRUE(grace) << "terminationGracePeriodSeconds missing (default 30 s is too short)";
  EXPECT_GT(grace.as<long>(), *sleep + *drain)
      << "preStop " << *sleep << " s + drain " << *drain << " s";
}

// The effective value of a securityContext field: the container's, else the pod's.
YAML::Node effective(const std::string& key) {
  const auto own = at(container(), {"securityContext", key});
  return own ? own : at(pod_spec(), {"securityContext", key});
}

TEST(kubernetes, container_runs_as_non_root_without_privileges) {
  ASSERT_TRUE(effective("runAsNonRoot")) << "runAsNonRoot not set";
  EXPECT_TRUE(effective("runAsNonRoot").as<bool>());
  ASSERT_TRUE(effective("runAsUser")) << "runAsUser not set";
  EXPECT_EQ(effective("runAsUser").as<int>(), 10001) << "the image's mapigate user";

  const auto sc = at(container(), {"securityContext"});
  ASSERT_TRUE(sc.IsMap()) << "container has no securityContext";
  EXPECT_FALSE(at(sc, {"allowPrivilegeEscalation"}).as<bool>(true));
  EXPECT_TRUE(at(sc, {"readOnlyRootFilesystem"}).as<bool>(false));
  std::set<std::string> dropped;
  for (const auto& c : at(sc, {"capabilities", "drop"}))
    dropped.insert(c.Scalar());
  EXPECT_TRUE(dropped.contains("ALL")) << "capabilities.drop must contain ALL";
}

TEST(kubernetes, selectors_match_the_pod_labels) {
  EXPECT_TRUE(selects(at(one("Deployment"), {"spec", "selector", "matchLabels"}), pod_labels()))
      << "Deployment";
  EXPECT_TRUE(
      selects(at(one("PodDisruptionBudget"), {"spec", "selector", "matchLabels"}), pod_labels()))
      << "PodDisruptionBudget";
  EXPECT_TRUE(selects(at(one("Service"), {"spec", "selector"}), pod_labels())) << "Service";
}

TEST(kubernetes, service_targets_a_container_port_the_config_listens_on) {
  std::set<int> listening;
  for (const auto& l : at(shipped_config(), {"listeners"})) {
    listening.insert(port_of(str(at(l, {"address"}))));
  }
  const auto ports = at(one("Service"), {"spec", "ports"});
  ASSERT_TRUE(ports.IsSequence() && ports.size() > 0);
  for (const auto& p : ports) {
    SCOPED_TRACE("Service port " + str(at(p, {"port"})));
    const auto target_port = at(p, {"targetPort"});  // absent: same as port
    const auto target = resolve_port(target_port ? target_port : at(p, {"port"}));
    ASSERT_TRUE(target.has_value()) << "targetPort is no containerPort of the Deployment";
    EXPECT_TRUE(listening.contains(*target)) << "no listener of mapigate.yaml on " << *target;
  }
}

// Where a path of the shipped config comes from: the volume mounted over it.
struct mount {
  std::string path;
  YAML::Node volume;
};

std::optional<mount> mount_of(const std::string& file) {
  std::optional<mount> best;
  for (const auto& vm : at(container(), {"volumeMounts"})) {
    const auto mp = str(at(vm, {"mountPath"}));
    if (file != mp && !file.starts_with(mp + "/")) continue;
    if (best && best->path.size() >= mp.size()) continue;
    for (const auto& v : at(pod_spec(), {"volumes"})) {
      if (str(at(v, {"name"})) == str(at(vm, {"name"}))) best = mount{mp, v};
    }
  }
  return best;
}

TEST(kubernetes, every_file_the_config_names_is_in_the_secret) {
  const auto cfg = shipped_config();
  std::vector<std::string> files;
  for (const auto& l : at(cfg, {"listeners"})) {
    for (const auto& c : at(l, {"tls", "certificates"})) {
      files.push_back(str(at(c, {"cert"})));
      files.push_back(str(at(c, {"key"})));
    }
  }
  for (const auto& b : at(cfg, {"backends"})) {
    if (const auto ca = at(b, {"tls", "ca"})) files.push_back(str(ca));
  }
  for (const auto& k : at(cfg, {"affinity", "key_files"}))
    files.push_back(str(k));
  if (const auto t = at(cfg, {"admin", "token_file"})) files.push_back(str(t));
  ASSERT_FALSE(files.empty());

  const auto secret = one("Secret");
  const auto secret_name = str(at(secret, {"metadata", "name"}));
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    const auto m = mount_of(f);
    ASSERT_TRUE(m.has_value()) << "not under any volumeMount";
    ASSERT_EQ(str(at(m->volume, {"secret", "secretName"})), secret_name) << "not from the Secret";
    const auto key = f.substr(m->path.size() + 1);
    EXPECT_TRUE(at(secret, {"stringData", key}) || at(secret, {"data", key}))
        << "the Secret has no key " << key;
  }
}

TEST(kubernetes, log_directory_is_a_writable_volume) {
  const auto dir = str(at(shipped_config(), {"logs", "directory"}));
  ASSERT_FALSE(dir.empty()) << "the shipped config writes HttpProxy logs: it needs logs.directory";
  const auto m = mount_of(dir);
  ASSERT_TRUE(m.has_value()) << dir << " is on the read-only root file system";
  EXPECT_TRUE(at(m->volume, {"emptyDir"}) || at(m->volume, {"persistentVolumeClaim"}))
      << dir << " is not on an emptyDir or a PersistentVolumeClaim";
}

}  // namespace
