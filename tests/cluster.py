"""A real two-node Ray cluster on loopback for the cluster tests: a head that runs no tasks, and worker nodes that
share nothing with the driver but Ray, as on Kubernetes or a cloud.

Each worker node runs in a mount namespace of its own (`unshare --mount`, root) in which the checkout is hidden under
an empty read-only tmpfs (so the code can only arrive through Ray), and so is every folder in `hidden` (the results
folder's parent: a task that tried to write there would fail). The worker keeps the checkout's Python: its virtual
environment is bind-mounted elsewhere before the checkout is hidden.

Ray binds its servers on every interface of a multi-node cluster, so the whole cluster and its drivers live in a
network namespace of their own whose only interface is loopback: nothing of it is reachable from outside.

Every process of the cluster carries an environment marker; `stop` ends exactly those (never Ray's own
stop-everything command, which would end every Ray on the machine) and deletes the cluster's Ray folders.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from conftest import REPO_ROOT

MARKER = "MREN_TEST_CLUSTER"
RAY_MAIN = "import sys; from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"
# Holds the cluster's network namespace: brings its loopback interface up (SIOCGIFFLAGS, SIOCSIFFLAGS | IFF_UP), waits.
LOOPBACK_HOLDER = """
import fcntl, signal, socket, struct
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(probe, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
fcntl.ioctl(probe, 0x8914, struct.pack("16sH", b"lo", flags | 1))
print("up", flush=True)
signal.pause()
"""


class ClusterError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unshare_problem() -> str | None:
    """Why a worker cannot get a mount namespace of its own here, or None."""
    for command in ("unshare", "nsenter"):
        if shutil.which(command) is None:
            return f"the {command} command is not installed"
    probe = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c",
                            "mount -t tmpfs -o ro tmpfs /mnt"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return (f"unshare --mount --net is not permitted here ({probe.stderr.strip() or probe.returncode}; "
                "it needs root)")
    return None


class Cluster:
    def __init__(self, hidden: list[Path], worker_cpus: int = 2) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.token = uuid.uuid4().hex + uuid.uuid4().hex
        # Short paths: Ray's unix sockets live under its folders.
        self.root = Path(tempfile.mkdtemp(prefix=f"mren-cl-{self.id}-", dir="/tmp"))
        self.hidden = [Path(folder) for folder in hidden]
        self.worker_cpus = worker_cpus
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.head: subprocess.Popen | None = None
        self.network: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.venv = Path(sys.prefix)  # the tests' Python environment; the worker gets it bind-mounted

    def environment(self, role: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
        env.pop("PYTHONPATH", None)
        env[MARKER] = f"{self.id}:{role}"
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        # Token authentication (Ray's default for `ray start`) with a token of this cluster's own: every node and
        # driver must present it, as on a real cluster.
        env["RAY_AUTH_MODE"] = "token"
        env["RAY_AUTH_TOKEN"] = self.token
        return env

    def start_network(self) -> None:
        """The cluster's network namespace, loopback only; every command of the cluster runs in it (`inside`)."""
        self.network = subprocess.Popen(["unshare", "--net", sys.executable, "-c", LOOPBACK_HOLDER],
                                        env=self.environment("network"), stdout=subprocess.PIPE, text=True,
                                        start_new_session=True)
        if self.network.stdout.readline().strip() != "up":
            raise ClusterError("could not bring up loopback in the cluster's network namespace")

    def inside(self, command: list[str]) -> list[str]:
        """`command` run in the cluster's network namespace."""
        return ["nsenter", f"--net=/proc/{self.network.pid}/ns/net", *command]

    def start_head(self) -> None:
        if self.network is None:
            self.start_network()
        command = [sys.executable, "-c", RAY_MAIN, "start", "--head", "--block", "--port", str(self.port),
                   "--node-ip-address", "127.0.0.1", "--num-cpus", "0", "--num-gpus", "0",
                   "--include-dashboard", "false",
                   "--dashboard-agent-listen-port", str(free_port()), "--temp-dir", str(self.root / "head"),
                   "--disable-usage-stats"]
        self.head = self._spawn(command, "head", self.root / "head.log")

    def start_worker(self) -> None:
        """A worker node in a mount namespace of its own; returns once it has joined the cluster."""
        index = len(self.workers)
        venv = self.root / f"venv{index}"
        venv.mkdir()
        ray_dir = self.root / f"w{index}"
        mounts = [f"mount --bind {self.venv} {venv}", f"mount -t tmpfs -o ro,size=1m tmpfs {REPO_ROOT}"]
        mounts += [f"mount -t tmpfs -o ro,size=1m tmpfs {folder}" for folder in self.hidden]
        ray = [str(venv / "bin" / "python"), "-c", f'"{RAY_MAIN}"', "start", "--block", "--address", self.address,
               "--node-ip-address", "127.0.0.1", "--num-cpus", str(self.worker_cpus), "--num-gpus", "0",
               "--dashboard-agent-listen-port", str(free_port()), "--temp-dir", str(ray_dir),
               "--resources", f"'{{\"{self.id}-worker{index}\": 1}}'", "--disable-usage-stats"]
        script = " && ".join([*mounts, "cd /", "exec " + " ".join(ray)])
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        self.workers.append(self._spawn(command, f"worker{index}", self.root / f"worker{index}.log"))
        self.wait_for_worker(index)

    def _spawn(self, command: list[str], role: str, log: Path) -> subprocess.Popen:
        env = self.environment(role)
        if role.startswith("worker"):
            # The node's "local disk" for checkpoints and caches: inside the cluster's folder, deleted with it.
            env["MREN_NODE_CHECKPOINTS"] = str(self.root / f"{role}-disk" / "checkpoints")
            env["MREN_NODE_CACHE"] = str(self.root / f"{role}-disk" / "cache")
        with open(log, "ab") as output:
            return subprocess.Popen(self.inside(command), cwd="/", env=env, stdout=output,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def alive_nodes(self) -> list[str]:
        """The resource names of the alive nodes, asked of the cluster by a short-lived driver of its own."""
        probe = ("import ray, logging; ray.init(address=%r, logging_level=logging.ERROR, log_to_driver=False); "
                 "print('NODES', *(name for node in ray.nodes() if node['Alive'] for name in node['Resources']))"
                 ) % self.address
        result = subprocess.run(self.inside([sys.executable, "-c", probe]), capture_output=True, text=True, timeout=120,
                                env=self.environment("probe"), cwd="/")
        lines = [line for line in result.stdout.splitlines() if line.startswith("NODES")]  # Ray prints warnings too
        return lines[-1].split()[1:] if result.returncode == 0 and lines else []

    def wait_for_head(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.head.poll() is not None:
                raise ClusterError(f"the head node exited:\n{self.log('head')}")
            if self.alive_nodes():
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"the head node did not start in time:\n{self.log('head')}")
            time.sleep(1)

    def wait_for_worker(self, index: int, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while f"{self.id}-worker{index}" not in self.alive_nodes():
            if self.workers[index].poll() is not None:
                raise ClusterError(f"the worker node exited:\n{self.log(f'worker{index}')}")
            if time.monotonic() > deadline:
                raise ClusterError(f"the worker node did not join in time:\n{self.log(f'worker{index}')}")
            time.sleep(1)

    def log(self, role: str) -> str:
        try:
            return (self.root / f"{role}.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def processes(self, role: str | None = None) -> list[int]:
        """Live processes of this cluster (of one role: "head", "worker0", ...)."""
        wanted = f"{MARKER}={self.id}:{role or ''}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z" and any(item.startswith(wanted) for item in environ.split(b"\0")):
                found.append(int(entry.name))
        return found

    def kill(self, role: str | None = None) -> None:
        """SIGKILL every process of this cluster (of one role), at once: a node that dies."""
        for pid in self.processes(role):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in [self.head, *self.workers, self.network]:
            if process is not None and process.poll() is None and (role is None or process in self._role(role)):
                process.kill()
        for process in [self.head, *self.workers, self.network]:
            if process is not None:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass

    def _role(self, role: str) -> list[subprocess.Popen]:
        if role in ("head", "network"):
            return [getattr(self, role)]
        return [self.workers[int(role.removeprefix("worker"))]]

    def stop(self) -> list[int]:
        """End every process of the cluster and delete its folders; the processes that were still alive."""
        leftovers = self.processes()
        for _ in range(3):
            self.kill()
            time.sleep(0.5)
            if not self.processes():
                break
        shutil.rmtree(self.root, ignore_errors=True)
        return leftovers
