"""The executor is chosen by configuration: in process by default, Celery workers with
TRENDER_EXECUTOR=celery; a bad value is one line. And the fake GitHub judges concurrency as GitHub's
secondary limits do, which the scale-out tests rely on."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from trender_assets.errors import ConfigurationError
from trender_assets.executors import executor_from_env
from trender_assets_tests import scenario
from trender_assets_tests.helpers import trender
from trender_assets_tests.fake_github import FakeGitHub

DAY = scenario.DAY.isoformat()


def test_steps_run_in_process_unless_configured(monkeypatch):
    for value in (None, "", "in_process", " In_Process "):
        if value is None:
            monkeypatch.delenv("TRENDER_EXECUTOR", raising=False)
        else:
            monkeypatch.setenv("TRENDER_EXECUTOR", value)
        assert executor_from_env().name == "in_process"


def test_celery_is_selected_by_configuration_and_names_its_broker_by_variable(monkeypatch):
    monkeypatch.setenv("TRENDER_EXECUTOR", "celery")
    monkeypatch.setenv("TRENDER_CELERY_BROKER", "redis://:s3cret@127.0.0.1:6379/0")
    executor = executor_from_env()
    assert executor.name == "celery"
    config = executor.config_schema.resolve_config({}).value["config"]
    assert config["broker"] == config["backend"] == "redis://:s3cret@127.0.0.1:6379/0"
    # read when a run starts, not baked into the definition: the URL (and its password) stays in
    # the environment, so no run's configuration holds it
    monkeypatch.setenv("TRENDER_CELERY_BROKER", "redis://10.0.0.5:6379/2")
    assert executor.config_schema.resolve_config({}).value["config"]["broker"] == "redis://10.0.0.5:6379/2"


@pytest.mark.parametrize("env, message", [
    ({"TRENDER_EXECUTOR": "kubernetes"}, "TRENDER_EXECUTOR must be one of in_process, celery, got 'kubernetes'"),
    ({"TRENDER_EXECUTOR": "celery"}, "TRENDER_EXECUTOR=celery needs TRENDER_CELERY_BROKER, e.g. redis://127.0.0.1:6379/0"),
    ({"TRENDER_EXECUTOR": "celery", "TRENDER_CELERY_BROKER": "127.0.0.1:6379"},
     "TRENDER_CELERY_BROKER must be a broker URL such as redis://HOST:6379/0 or amqp://USER@HOST//"),
])
def test_a_bad_executor_setting_is_one_line(monkeypatch, env, message):
    monkeypatch.delenv("TRENDER_CELERY_BROKER", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as raised:
        executor_from_env()
    assert str(raised.value) == message


def test_the_command_reports_a_bad_executor_in_one_line(cli_env):
    result = trender({**cli_env, "TRENDER_EXECUTOR": "threads"}, "run", "--date", DAY)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "trender: error: TRENDER_EXECUTOR must be one of in_process, celery, got 'threads'"]


def test_the_fake_github_counts_requests_in_flight_and_answers_a_crowd_with_a_secondary_limit():
    with scenario.serve(FakeGitHub(token=scenario.TOKEN)) as fake:
        fake.latency = 0.5  # long enough for all three to arrive while the first is answered
        fake.concurrency_limit = 2
        answers: list[httpx.Response] = []

        def get():
            answers.append(httpx.get(f"{fake.url}/rate_limit", timeout=10,
                                     headers={"Authorization": f"Bearer {scenario.TOKEN}"}))

        threads = [threading.Thread(target=get) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert fake.max_in_flight == 3
        deadline = time.monotonic() + 5  # a server thread finishes its count just after the client has the answer
        while fake.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.in_flight == 0
        assert sorted(a.status_code for a in answers) == [200, 200, 403]
        crowded = next(a for a in answers if a.status_code == 403)
        assert "secondary rate limit" in crowded.json()["message"] and crowded.headers["retry-after"] == "1"
        assert fake.secondary_limit_answers == 1
        fake.concurrency_limit = None  # unbounded again: every request is answered
        answers.clear()
        threads = [threading.Thread(target=get) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a.status_code for a in answers] == [200, 200, 200] and fake.secondary_limit_answers == 1
