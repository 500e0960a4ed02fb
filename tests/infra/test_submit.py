"""Job submission without a cluster: addresses, environment flags, the command check before upload,
token lookup, and an unreachable cluster (the cluster itself is in test_cluster.py)."""

from __future__ import annotations

import pytest
from unitscope.infra import submit as jobs
from unitscope.infra.commands.submit import check_command

from tests.helpers import ROOT, free_port, run_cli
from unitscope.core import auth, ray_runtime
from unitscope.core.errors import ConfigError


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in (
        "RAY_ADDRESS",
        "RAY_API_SERVER_ADDRESS",
        "RAY_AUTH_MODE",
        "RAY_AUTH_TOKEN",
        "RAY_AUTH_TOKEN_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


def test_address_resolution(clean_env):
    assert jobs.resolve_address("head:8265") == "http://head:8265"
    assert jobs.resolve_address("https://ray.example.com/") == "https://ray.example.com"
    clean_env.setenv("RAY_ADDRESS", "10.0.0.1:6379")  # a GCS address is not the job API
    with pytest.raises(ConfigError, match="http://HEAD:8265"):
        jobs.resolve_address(None)
    clean_env.setenv("RAY_ADDRESS", "http://10.0.0.1:8265")
    assert jobs.resolve_address(None) == "http://10.0.0.1:8265"
    with pytest.raises(ConfigError, match="Ray Client address"):
        jobs.resolve_address("ray://head:10001")


def test_env_flags(clean_env):
    clean_env.setenv("AWS_ACCESS_KEY_ID", "from-here")
    assert jobs.parse_env(["A=1", "B=x=y", "AWS_ACCESS_KEY_ID"]) == {
        "A": "1",
        "B": "x=y",
        "AWS_ACCESS_KEY_ID": "from-here",
    }
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE is not set"):
        jobs.parse_env(["NOT_SET_ANYWHERE"])
    with pytest.raises(ConfigError, match="expected NAME=VALUE"):
        jobs.parse_env(["=oops"])


def test_runtime_env_carries_the_users_folder_but_not_its_clutter(tmp_path):
    env = jobs.runtime_env(ROOT, {"K": "V"}, ["out/"])
    assert env["working_dir"] == str(ROOT)
    assert {".git", ".venv", "out/"} <= set(env["excludes"])
    assert env["env_vars"]["K"] == "V"
    assert jobs.runtime_env(tmp_path, {})["working_dir"] == str(tmp_path)  # any folder, not a checkout
    with pytest.raises(ConfigError, match="no such directory"):
        jobs.runtime_env(tmp_path / "missing", {})


def test_entrypoint_runs_the_uploaded_cli_with_quoting():
    assert jobs.entrypoint(["ingest", "s3://b/my videos", "out", "--fps", "2"]) == (
        "python -m unitscope ingest 's3://b/my videos' out --fps 2"
    )


def test_command_is_checked_before_anything_is_uploaded(capsys):
    assert check_command(["--", "ingest", "a", "b", "--fps", "2"]) == ["ingest", "a", "b", "--fps", "2"]
    with pytest.raises(ConfigError, match="no command to submit"):
        check_command(["--"])
    with pytest.raises(ConfigError, match="run it directly"):
        check_command(["--", "jobs", "list"])
    with pytest.raises(SystemExit):
        check_command(["--", "no-such-command"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        check_command(["--", "ingest", "a", "b", "--fsp", "2"])
    assert "unrecognized arguments: --fsp" in capsys.readouterr().err


def test_token_lookup_follows_rays_precedence(clean_env, tmp_path):
    assert auth.find_token() is None
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("from-file\n")
    assert auth.find_token() == auth.Token("from-file", str(tmp_path / ".ray" / "auth_token"))
    path = tmp_path / "token"
    path.write_text("from-path")
    clean_env.setenv("RAY_AUTH_TOKEN_PATH", str(path))
    assert auth.find_token().value == "from-path"
    clean_env.setenv("RAY_AUTH_TOKEN", "from-env")
    assert auth.find_token() == auth.Token("from-env", "$RAY_AUTH_TOKEN")
    assert auth.find_token().header() == {"Authorization": "Bearer from-env"}
    clean_env.setenv("RAY_AUTH_MODE", "disabled")
    assert auth.find_token() is None


def test_unreadable_token_path_is_a_config_error(clean_env, tmp_path):
    clean_env.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"RAY_AUTH_TOKEN_PATH=.*cannot be read"):
        auth.find_token()
    (tmp_path / "empty").write_text("")
    clean_env.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="is empty"):
        auth.find_token()


def test_no_address_means_no_cluster_auth(clean_env):
    clean_env.setenv("RAY_AUTH_TOKEN", "t")
    assert ray_runtime.prepare_cluster_auth(None) is None


@pytest.mark.parametrize(
    "command",
    [
        ["submit", "--address", "{}", "--wait-for-cluster", "2", "--", "ingest", "a", "b"],
        ["jobs", "list", "--address", "{}"],
    ],
)
def test_unreachable_cluster_is_a_clear_error(command, tmp_path):
    address = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = run_cli(*(a.format(address) for a in command), timeout=60, HOME=str(tmp_path))
    assert proc.returncode == 2
    assert f"cannot reach the Ray dashboard at {address}" in proc.stderr and "Traceback" not in proc.stderr
