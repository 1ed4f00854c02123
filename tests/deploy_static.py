"""Static checks of deploy/ (issue 11): there is no container engine or cluster on the build
machine, so the Dockerfile, docker-compose.yml and Kubernetes manifests are checked here against
the real `segstream` binary instead of being run.

- Every YAML file parses (multi-document); compose has its services, every k8s document has
  apiVersion/kind/metadata.name, and the references between them (selectors, ConfigMap,
  autoscaler target, probe paths, lag metric, topic names) hold.
- Every `--flag` given to a segstream command (compose commands, k8s args, Dockerfile, README
  code, comments naming a command), every SEGSTREAM_* env var, and every key of the example
  config exists in `segstream <command> --help`; every worker/serve/replay option appears in the
  example config with its default, and the binary accepts the file.
- The runtime image installs the package of every shared library the binary needs.
- Useful consumers never exceed partitions (autoscaler max, compose replicas).
Every failure names the file (and line or object) and the unknown name."""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib

try:
    import yaml
except ImportError:
    sys.exit("deploy_static: PyYAML is missing; run `bash deploy/install-deps.sh` (python3-yaml)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
EXAMPLE = os.path.join(DEPLOY, "segstream.example.toml")
# Libraries every Debian image has (apt itself needs them), so the runtime stage need not list them.
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}
FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
# `segstream <args>` in text (also build/release/segstream, the image segstream:latest).
INVOCATION = re.compile(r"(?<![\w.-])segstream(?::\S+)?\s+([^;&|#`]*)")
# Comment lines about other tools: their flags are not segstream's.
OTHER_TOOL = re.compile(r"\b(docker|kubectl|helm|kafka-[\w.-]+|redis-cli|redis-server)\b")
ENV = re.compile(r"\bSEGSTREAM_[A-Z0-9_]+\b")

errors = []


def fail(where, what):
    errors.append(f"{os.path.relpath(where, ROOT) if os.path.isabs(where) else where}: {what}")


class Cli:
    """`segstream <command> --help`, parsed once per command path."""

    def __init__(self, binary):
        self.binary = binary
        self.cache = {}
        self.commands = set(self.subcommands(()))

    def help(self, path):
        if path not in self.cache:
            out = subprocess.run([self.binary, *path, "--help"], capture_output=True, text=True,
                                 timeout=30)
            if out.returncode != 0:
                raise RuntimeError(f"segstream {' '.join(path)} --help: {first_line(out.stderr)}")
            self.cache[path] = out.stdout
        return self.cache[path]

    def subcommands(self, path):
        text = self.help(path).split("Subcommands:", 1)
        return [] if len(text) < 2 else re.findall(r"^  (\S+)\s", text[1], re.M)

    def options(self, path):
        """{long name: (env var or None, default text or None)} for one command."""
        opts = {}
        for line in self.help(path).splitlines():
            m = re.match(r"^\s+(?:-\w,)?--([a-z][a-z0-9-]*)\b(.*)$", line)
            if not m:
                continue
            env = re.search(r"\(Env:(\w+)\)", m.group(2))
            spec = m.group(2).split("(Env:")[0].strip() if env else ""
            default = re.search(r"=(\S+?)(?: x \d+)?$", spec)
            opts[m.group(1)] = (env.group(1) if env else None,
                                default.group(1) if default else None)
        return opts

    def envs(self, path):
        return {env for env, _ in self.options(path).values() if env}

    def command_path(self, tokens):
        """The command path at the start of `tokens` (e.g. ("bench", "e2e")), or None."""
        path = ()
        for tok in tokens:
            if tok in (self.subcommands(path) if path else self.commands):
                path += (tok,)
            else:
                break
        return path or None


def flags_in(tokens):
    return [m.group(1) for t in tokens for m in [re.match(r"^--([a-z][a-z0-9-]*)(=.*)?$", t)] if m]


def check_args(cli, where, args):
    """args = what follows `segstream`: a command path, then its flags."""
    path = cli.command_path(args)
    if path is None:
        if args and args[0].startswith("-"):  # root flags only (e.g. CMD ["--help"])
            for f in flags_in(args):
                if f not in cli.options(()):
                    fail(where, f"--{f} is not a flag of `segstream`")
        else:
            fail(where, f"`segstream {' '.join(args[:1])}` is not a segstream command")
        return None
    known = cli.options(path)
    for f in flags_in(args[len(path):]):
        if f not in known:
            fail(where, f"--{f} is not an option of `segstream {' '.join(path)}`")
    return path


def check_text_invocations(cli, path, text, strict_lines):
    """`segstream <command> --flags` written in a Dockerfile/README/comment line. In lines where
    `strict_lines(lineno, line)` is true (code), a word after segstream must be a command (a path
    or `.` is not a word: `COPY .../segstream /usr/local/bin/`, `-t segstream:latest .`)."""
    for n, line in enumerate(text.splitlines(), 1):
        for m in INVOCATION.finditer(line):
            try:
                tokens = shlex.split(m.group(1).rstrip("\\"), comments=False)
            except ValueError:
                tokens = m.group(1).split()
            tokens = [t.strip("\"',[]") for t in tokens]
            if not tokens:
                continue
            word = re.match(r"^[a-z][a-z0-9-]*$", tokens[0])
            if (cli.command_path(tokens) or (word and strict_lines(n, line))
                    or tokens[0].startswith("--")):
                check_args(cli, f"{os.path.relpath(path, ROOT)}:{n}", tokens)


def comment_flags(cli, path, text, commands):
    """A `--flag` in a YAML comment (a commented alternative) must belong to one of `commands`."""
    known = set().union(*(cli.options(c) for c in commands)) if commands else set()
    envs = set().union(*(cli.envs(c) for c in commands)) if commands else set()
    for n, line in enumerate(text.splitlines(), 1):
        comment = line.split("#", 1)[1] if "#" in line else ""
        if not commands or INVOCATION.search(comment) or OTHER_TOOL.search(comment):
            continue  # no segstream command here, checked as an invocation, or another tool
        for f in FLAG.findall(comment):
            if f not in known:
                fail(f"{os.path.relpath(path, ROOT)}:{n}",
                     f"--{f} (in a comment) is not an option of {fmt(commands)}")
        for e in ENV.findall(comment):
            if e not in envs:
                fail(f"{os.path.relpath(path, ROOT)}:{n}",
                     f"{e} (in a comment) is read by none of {fmt(commands)}")


def first_line(text):
    return (text.strip().splitlines() or [""])[0]


def fmt(commands):
    return "/".join("segstream " + " ".join(c) for c in sorted(commands))


def env_names_anywhere(cli, files):
    every = set().union(*(cli.envs((c,)) for c in cli.commands))
    for path in files:
        for n, line in enumerate(open(path).read().splitlines(), 1):
            for e in ENV.findall(line):
                if e not in every:
                    fail(f"{os.path.relpath(path, ROOT)}:{n}",
                         f"{e} is not the env var of any segstream option")


def topics_from_source():
    text = open(os.path.join(ROOT, "storage", "keys.h")).read()
    return set(re.findall(r'k\w+Topic = "([^"]+)"', text))


def check_topics_script(where, script, topics):
    loop = re.search(r"for topic in ([^;]+);", script)
    named = set(loop.group(1).split()) if loop else set()
    if named != topics:
        fail(where, f"creates topics {sorted(named)}, storage/keys.h has {sorted(topics)}")
    for needed in ("--create", "--if-not-exists", "--partitions"):
        if needed not in script:
            fail(where, f"topic script lacks {needed}")


# --- docker-compose.yml ---------------------------------------------------------------------

def check_compose(cli, topics):
    path = os.path.join(DEPLOY, "docker-compose.yml")
    text = open(path).read()
    doc = yaml.safe_load(text)
    services = doc.get("services", {})
    for name in ("kafka", "redis", "topics", "worker", "serve", "replay"):
        if name not in services:
            fail(path, f"service {name} is missing")
    if services.get("kafka", {}).get("image") != "apache/kafka:3.7.0":
        fail(path, "kafka: image is not apache/kafka:3.7.0")
    kenv = services.get("kafka", {}).get("environment", {})
    for key in ("KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_CONTROLLER_QUORUM_VOTERS",
                "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CONTROLLER_LISTENER_NAMES"):
        if key not in kenv:
            fail(path, f"kafka: {key} not set (KRaft needs it)")
    rcmd = " ".join(services.get("redis", {}).get("command", []))
    if "--appendonly yes" not in rcmd or "--appendfsync always" not in rcmd:
        fail(path, "redis: not started with --appendonly yes --appendfsync always")
    commands = set()
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            c = cond.get("condition") if isinstance(cond, dict) else None
            if dep not in services:
                fail(path, f"{name}: depends on unknown service {dep}")
            elif c == "service_healthy" and "healthcheck" not in services[dep]:
                fail(path, f"{name}: waits for {dep} healthy, but {dep} has no healthcheck")
            elif c == "service_completed_successfully" and services[dep].get("restart") != "no":
                fail(path, f"{name}: waits for one-shot {dep}, which is restarted")
        build = svc.get("build") or {}
        if not (str(svc.get("image", "")).startswith("segstream") or
                build.get("dockerfile") == "deploy/Dockerfile"):
            continue
        cmd = svc.get("command", [])
        cmd = shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]
        cpath = check_args(cli, f"deploy/docker-compose.yml: service {name}", cmd)
        if cpath:
            commands.add(cpath)
            for e in (svc.get("environment") or {}):
                if e.startswith("SEGSTREAM_") and e not in cli.envs(cpath):
                    fail(path, f"service {name}: {e} is not read by segstream {' '.join(cpath)}")
    expected = {"worker": ("worker",), "serve": ("serve",), "replay": ("replay",)}
    for name, cpath in expected.items():
        cmd = services.get(name, {}).get("command", [None])
        if name in services and cmd[:1] != list(cpath):
            fail(path, f"service {name} does not run `segstream {name}`")
    if "topics" in services:
        script = " ".join(services["topics"].get("command", []))
        check_topics_script(f"{path}: service topics", script, topics)
    # Useful consumers: replicas x threads must not exceed the default partition count.
    parts = re.search(r"\$\{PARTITIONS:-(\d+)\}", text)
    worker = services.get("worker", {})
    replicas = (worker.get("deploy") or {}).get("replicas", 1)
    if replicas < 2:
        fail(path, "worker: fewer than two replicas")
    cmd = worker.get("command", [])
    threads = int(cmd[cmd.index("--threads") + 1]) if "--threads" in cmd else 1
    if not parts or replicas * threads > int(parts.group(1)):
        fail(path, f"worker: {replicas} x {threads} consumers exceed the partitions "
                   "(or no ${PARTITIONS:-N})")
    if "8080:8080" not in [str(p) for p in services.get("serve", {}).get("ports", [])]:
        fail(path, "serve: port 8080 not published")
    comment_flags(cli, path, text, commands)
    return commands


# --- Kubernetes -----------------------------------------------------------------------------

def k8s_files():
    out = []
    for d, _, names in os.walk(os.path.join(DEPLOY, "k8s")):
        out += [os.path.join(d, n) for n in sorted(names) if n.endswith((".yaml", ".yml"))]
    return sorted(out)


def containers(doc):
    spec = (doc.get("spec") or {})
    tmpl = (spec.get("template") or {}).get("spec") or {}
    return tmpl.get("containers") or []


def check_k8s(cli, topics):
    docs = []  # (path, doc)
    for path in k8s_files():
        for i, doc in enumerate(yaml.safe_load_all(open(path))):
            if doc is None:
                continue
            for key in ("apiVersion", "kind"):
                if not doc.get(key):
                    fail(path, f"document {i}: no {key}")
            if not (doc.get("metadata") or {}).get("name"):
                fail(path, f"document {i}: no metadata.name")
            docs.append((path, doc))
    if not docs:
        fail("deploy/k8s", "no manifests")
    by_kind = {}
    for path, doc in docs:
        by_kind.setdefault(doc.get("kind"), {})[doc["metadata"]["name"]] = (path, doc)
    configmaps = by_kind.get("ConfigMap", {})
    cm_users = {name: set() for name in configmaps}  # ConfigMap -> commands reading it
    commands_in = {}
    serve_routes = open(os.path.join(ROOT, "serve", "api.cc")).read() + \
        open(os.path.join(ROOT, "serve", "serve_metrics.cc")).read()
    for path, doc in docs:
        name = doc["metadata"]["name"]
        if doc.get("kind") in ("Deployment", "StatefulSet"):
            sel = doc["spec"].get("selector", {}).get("matchLabels", {})
            labels = doc["spec"]["template"]["metadata"].get("labels", {})
            if not sel or any(labels.get(k) != v for k, v in sel.items()):
                fail(path, f"{name}: selector does not match the pod labels")
        for c in containers(doc):
            if c.get("name") == "topics" or "kafka" in c.get("image", ""):
                check_topics_script(f"{path}: {name}", " ".join(c.get("args", [])), topics)
            if not str(c.get("image", "")).startswith("segstream"):
                continue
            # command[0] would be segstream itself (the image's ENTRYPOINT otherwise).
            args = [str(a) for a in (c.get("command") or [])[1:] + (c.get("args") or [])]
            cpath = check_args(cli, f"{os.path.relpath(path, ROOT)}: {name}/{c['name']}", args)
            if not cpath:
                continue
            commands_in.setdefault(path, set()).add(cpath)
            for e in c.get("env", []) or []:
                if e["name"].startswith("SEGSTREAM_") and e["name"] not in cli.envs(cpath):
                    fail(path, f"{name}: env {e['name']} is not read by "
                               f"segstream {' '.join(cpath)}")
            for src in c.get("envFrom", []) or []:
                ref = (src.get("configMapRef") or {}).get("name")
                if ref not in configmaps:
                    fail(path, f"{name}: envFrom ConfigMap {ref} is not in deploy/k8s")
                else:
                    cm_users[ref].add(cpath)
            for probe in ("readinessProbe", "livenessProbe"):
                get = (c.get(probe) or {}).get("httpGet")
                if get and f'"{get["path"]}"' not in serve_routes:
                    fail(path, f"{name}: {probe} path {get['path']} is not a serve route")
    for cm, (path, doc) in configmaps.items():
        users = cm_users[cm]
        if not users:
            fail(path, f"ConfigMap {cm} is read by no segstream container")
            continue
        envs = set().union(*(cli.envs(u) for u in users))
        text = open(path).read()
        commented = re.findall(r"^\s*#\s*(SEGSTREAM_[A-Z0-9_]+):", text, re.M)
        keys = set(doc.get("data", {})) | set(commented)
        for key in sorted(keys):
            if key not in envs:
                fail(path, f"ConfigMap {cm}: {key} is read by none of {fmt(users)}")
        commands_in.setdefault(path, set()).update(users)
    for path in k8s_files():
        comment_flags(cli, path, open(path).read(), commands_in.get(path, set()))
    # Services select serve pods; the autoscaler targets a Deployment and stays within partitions.
    pods = [doc["spec"]["template"]["metadata"].get("labels", {}) for _, doc in
            by_kind.get("Deployment", {}).values()]
    for name, (path, doc) in by_kind.get("Service", {}).items():
        sel = doc["spec"].get("selector", {})
        if not any(all(p.get(k) == v for k, v in sel.items()) for p in pods):
            fail(path, f"Service {name}: selector matches no Deployment's pods")
    scaled = by_kind.get("ScaledObject", {})
    if not scaled:
        fail("deploy/k8s", "no ScaledObject (worker autoscaler)")
    for name, (path, doc) in scaled.items():
        target = doc["spec"]["scaleTargetRef"]["name"]
        if target not in by_kind.get("Deployment", {}):
            fail(path, f"ScaledObject {name}: target {target} is not a Deployment here")
            continue
        for t in doc["spec"].get("triggers", []):
            metric = re.findall(r"segstream_\w+", t.get("metadata", {}).get("query", ""))
            for m in metric:
                if f'"{m}"' not in serve_routes:
                    fail(path, f"ScaledObject {name}: metric {m} is not exported by serve")
        parts = [int(e["value"]) for _, d in by_kind.get("Job", {}).values() for c in containers(d)
                 for e in c.get("env", []) if e.get("name") == "PARTITIONS"]
        threads = max([int(d.get("data", {}).get("SEGSTREAM_THREADS", 1))
                       for _, d in configmaps.values()] or [1])
        most = doc["spec"].get("maxReplicaCount", 100)
        if not parts or most * threads > min(parts):
            fail(path, f"ScaledObject {name}: {most} replicas x {threads} threads exceed the "
                       f"partitions in the topics Job ({parts})")
        replicas = by_kind["Deployment"][target][1]["spec"].get("replicas", 1)
        if replicas > most:
            fail(path, f"Deployment {target}: {replicas} replicas above maxReplicaCount {most}")


# --- Dockerfile, README ----------------------------------------------------------------------

def check_dockerfile(cli, binary):
    path = os.path.join(DEPLOY, "Dockerfile")
    text = open(path).read()
    if not re.search(r"^FROM debian:bookworm-slim AS build", text, re.M):
        fail(path, "no `FROM debian:bookworm-slim AS build` stage")
    if "deploy/install-deps.sh" not in text:
        fail(path, "the build stage does not run deploy/install-deps.sh")
    if not re.search(r"^USER (?!root|0\b)\S+", text, re.M):
        fail(path, "the image runs as root")
    entry = re.findall(r"^ENTRYPOINT (\[.*\])", text, re.M)
    if [json.loads(e) for e in entry] != [["segstream"]]:
        fail(path, 'ENTRYPOINT is not ["segstream"]')
    for cmd in re.findall(r"^CMD (\[.*\])", text, re.M):
        check_args(cli, "deploy/Dockerfile: CMD", json.loads(cmd))
    logical = text.replace("\\\n", " ")
    check_text_invocations(cli, path, logical, lambda n, line: not line.lstrip().startswith("#"))
    # Runtime stage: every NEEDED library's Debian package installed (or in every Debian image).
    runtime = text.split("FROM debian:bookworm-slim\n", 1)
    if len(runtime) < 2:
        fail(path, "no runtime stage `FROM debian:bookworm-slim`")
        return
    installed = set()
    for m in re.finditer(r"apt-get install ([^&]+)", runtime[1].replace("\\\n", " ")):
        installed |= {w for w in m.group(1).split() if not w.startswith("-")}
    if not (shutil.which("ldd") and shutil.which("dpkg")):
        print("deploy_static: no ldd/dpkg here; runtime packages not checked")
        return
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    needed = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True).stdout
    for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", needed):
        if re.match(r"lib(asan|tsan|ubsan|lsan)\.so", soname):
            continue  # a sanitizer build's runtime (ctest --preset asan|tsan); the image is release
        lib = re.search(rf"^\s*{re.escape(soname)} => (\S+)", ldd, re.M)
        if not lib:
            fail(path, f"{soname}: not resolved by ldd here")
            continue
        real = os.path.realpath(lib.group(1))
        owner = ""
        for candidate in (lib.group(1), real, real.replace("/lib/", "/usr/lib/", 1)):
            q = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if q.returncode == 0:
                owner = q.stdout.split(":")[0]
                break
        if not owner:
            fail(path, f"{soname}: no Debian package owns {real}")
        elif owner not in installed and owner not in BASE_PACKAGES:
            fail(path, f"runtime stage does not install {owner} (provides {soname})")


def check_readme(cli):
    path = os.path.join(DEPLOY, "README.md")
    if not os.path.exists(path):
        fail(path, "missing")
        return
    text = open(path).read().replace("\\\n", " ")
    code = lambda n, line: line.startswith("    ")
    check_text_invocations(cli, path, text, code)
    for cmd in ("docker compose -f deploy/docker-compose.yml up --build",
                "kubectl apply -f deploy/k8s/"):
        if cmd not in text:
            fail(path, f"does not give `{cmd}`")


# --- example config ---------------------------------------------------------------------------

def same_value(value, default):
    """The file's TOML value against the --help default text (numbers compared as numbers)."""
    want = default.split(",")
    got = value if isinstance(value, list) else [value]
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        try:
            if float(g) != float(w):
                return False
        except (TypeError, ValueError):
            if str(g) != w:
                return False
    return True


def check_example(cli):
    path = EXAMPLE
    text = open(path).read()
    data = tomllib.loads(text)
    commented = {}  # section -> keys present as `# key = value`
    section = None
    for line in text.splitlines():
        m = re.match(r"^\[([a-z0-9.-]+)\]", line)
        if m:
            section = m.group(1)
        m = re.match(r"^#\s*([a-z][a-z0-9-]*)\s*=", line)
        if m and section:
            commented.setdefault(section, set()).add(m.group(1))
    for required in ("worker", "serve", "replay"):
        if required not in data:
            fail(path, f"no [{required}] section")
    rejected = False
    for section, values in data.items():
        cpath = cli.command_path(section.split("."))
        if not isinstance(values, dict) or cpath is None:
            fail(path, f"[{section}] is not a segstream command")
            continue
        opts = {k: v for k, v in cli.options(cpath).items() if k not in ("help", "config")}
        for key in list(values) + sorted(commented.get(section, ())):
            if key not in opts:
                fail(path, f"[{section}] {key} is not an option of `segstream {' '.join(cpath)}`")
        for key, (_, default) in opts.items():
            if key not in values and key not in commented.get(section, ()):
                fail(path, f"[{section}] option --{key} of `segstream {section}` is not documented")
            elif key in values and default is not None and not same_value(values[key], default):
                fail(path, f"[{section}] {key} = {values[key]!r}, but its default is {default}")
        # The binary reads the file (every section): unknown keys or bad values fail even with
        # --help. One rejection says it all.
        run = subprocess.run([cli.binary, *cpath, "--config", path, "--help"], capture_output=True,
                             text=True, timeout=30)
        if run.returncode != 0 and not rejected:
            rejected = True
            fail(path, f"`segstream {section} --config` rejects it: {first_line(run.stderr)}")
    # And it reaches the command: an out-of-range value planted in [worker] fails `worker`.
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.toml")
        planted = re.sub(r"(?m)^threads = 1$", "threads = 0", text, count=1)
        open(bad, "w").write(planted)
        run = subprocess.run([cli.binary, "worker", "--config", bad, "--help"], capture_output=True,
                             text=True, timeout=30)
        if planted == text or run.returncode == 0 or "--threads" not in run.stderr:
            fail(path, "a bad [worker] threads value did not fail `segstream worker --config`: "
                       f"rc {run.returncode}, {first_line(run.stderr)!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--segstream", required=True)
    args = ap.parse_args()
    cli = Cli(args.segstream)
    topics = topics_from_source()
    check_compose(cli, topics)
    check_k8s(cli, topics)
    check_dockerfile(cli, args.segstream)
    check_readme(cli)
    check_example(cli)
    files = [os.path.join(DEPLOY, f) for f in ("docker-compose.yml", "Dockerfile", "README.md")]
    env_names_anywhere(cli, files + [EXAMPLE] + k8s_files())
    if errors:
        print(f"deploy_static: {len(errors)} problem(s):")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print(f"deploy_static: ok (compose, {len(k8s_files())} k8s files, Dockerfile, README, "
          "example config)")


if __name__ == "__main__":
    main()
