"""Airflow's web UI in a real browser: a local Airflow 3 deployment (PostgreSQL, api-server,
scheduler, dag-processor, triggerer) with the provider and the Peak emulator on loopback, and
Debian's headless Chromium driven by Selenium.

Airflow's UI is a React app: every step waits for what a user would wait for (an element, a text),
never for a fixed time.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tests.dag_scoped_auth import AUTH_MANAGER
from tests.scale.airflow_cluster import ROOT, AirflowCluster, postgres_bin

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Headless, and none of Chromium's background connections (the machine's network is closed).
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
WAIT = 30.0
DIALOG_OPEN = """return [...document.querySelectorAll("[role=dialog]")].some(
  (d) => d.getClientRects().length > 0 && getComputedStyle(d).visibility !== "hidden");"""

T = TypeVar("T")


def why_no_browser_test() -> str | None:
    """Why the browser suite cannot run on this machine, or ``None``."""
    from airflow_provider_peak.version_compat import AIRFLOW_V_3_3_PLUS

    if not AIRFLOW_V_3_3_PLUS:
        return "the browser suite drives Airflow 3.3's UI"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    if postgres_bin() is None:
        return "PostgreSQL's server programs are missing (apt-get install -y postgresql)"
    for program in (CHROMIUM, CHROMEDRIVER):
        if not (os.access(program, os.X_OK) or shutil.which(Path(program).name)):
            return f"{Path(program).name} is missing (apt-get install -y chromium chromium-driver)"
    return None


class UiCluster(AirflowCluster):
    """The scale tests' cluster plus a triggerer, logging at INFO (task logs show the summaries),
    with the connection test API on and no scheduled runs (only the runs a test triggers).

    Users log in: an ``admin`` and a ``viewer`` (``passwords``), under ``DagScopedAuthManager``
    (Airflow's simple auth manager, except that only admins may read DAGs named ``private_*``).
    """

    def __init__(self, home: Path, db_url: str, dags: Path, env: dict[str, str]) -> None:
        super().__init__(home, db_url, dags, env, triggerer=True)
        from cryptography.fernet import Fernet

        self.passwords = {user: secrets.token_urlsafe(12) for user in ("admin", "viewer")}
        passwords_file = home / "simple_auth_manager_passwords.json"
        passwords_file.write_text(json.dumps(self.passwords))
        path = os.pathsep.join(p for p in (str(ROOT), self.env.get("PYTHONPATH")) if p)
        self.env.update(
            {
                # Known, so that a test can read what a form saved.
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__API__DEFAULT_WRAP": "True",  # log lines wrapped: whole in screenshots
                "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
                "PYTHONPATH": path,  # the auth manager is a test module
            }
        )
        self.url = f"http://127.0.0.1:{self.api_port}"

    def token(self, user: str) -> str:
        """A JWT of ``user`` for Airflow's REST API."""
        import requests

        body = {"username": user, "password": self.passwords[user]}
        reply = requests.post(f"{self.url}/auth/token", json=body, timeout=60)
        reply.raise_for_status()
        return str(reply.json()["access_token"])


def start_chromium() -> Any:
    """A headless Chromium with a fresh profile (``stop_chromium`` removes it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    profile = tempfile.mkdtemp(prefix="peak-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    service = Service(shutil.which("chromedriver") or CHROMEDRIVER)
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.peak_profile = profile
    return driver


def stop_chromium(driver: Any) -> None:
    driver.quit()
    shutil.rmtree(driver.peak_profile, ignore_errors=True)


class Browser:
    """What a user does in Airflow's UI, one waited-for step at a time."""

    def __init__(self, driver: Any, base_url: str, screenshots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.screenshots = screenshots

    # ------------------------------------------------------------------ waiting
    def wait(self, condition: Callable[[Any], T], what: str, timeout: float = WAIT) -> T:
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            # React re-renders replace elements under our feet: look again.
            wait = WebDriverWait(
                self.driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
            )
            return wait.until(condition)
        except TimeoutException:
            path = Path(tempfile.gettempdir(), "peak-ui-failures", f"{time.strftime('%H%M%S')}.png")
            path.parent.mkdir(exist_ok=True)
            self.driver.save_screenshot(str(path))
            raise AssertionError(f"timed out waiting for {what} (screenshot: {path})") from None

    def visible(self, xpath: str, within: Any = None, what: str | None = None) -> Any:
        def found(_: Any) -> Any:
            for element in (within or self.driver).find_elements("xpath", xpath):
                if element.is_displayed():
                    return element
            return False

        return self.wait(found, what or xpath)

    def text_appears(self, text: str, within: Any = None, timeout: float = WAIT) -> None:
        where = within or self.driver.find_element("tag name", "body")
        self.wait(lambda _: text in where.text, repr(text), timeout)

    # ------------------------------------------------------------------ actions
    def open(self, path: str, ready_xpath: str) -> Any:
        self.driver.get(self.base_url + path)
        return self.visible(ready_xpath)

    def log_in(self, user: str, password: str) -> None:
        """Sign in through Airflow's login form as ``user`` (signing out whoever was signed in)."""
        self.driver.delete_all_cookies()
        self.open("/auth/login", "//input[@name='username']")
        self.fill("username", user)
        self.fill("password", password)
        self.click(self.button("Sign in"), "Sign in")
        self.wait(lambda d: "/auth/" not in d.current_url, f"{user} to be signed in")
        self.visible("//*[normalize-space(text())='Dags']", what="Airflow's home page")

    @contextmanager
    def new_tab(self, link: Any, what: str) -> Iterator[None]:
        """Click ``link`` (which opens a tab), and work in that tab until the block ends."""
        home = self.driver.current_window_handle
        self.click(link, what)
        self.wait(lambda d: len(d.window_handles) == 2, f"the tab of {what}")
        self.driver.switch_to.window(next(h for h in self.driver.window_handles if h != home))
        try:
            yield
        finally:
            self.driver.close()
            self.driver.switch_to.window(home)

    def dialog(self) -> Any:
        return self.visible("//*[@role='dialog']", what="a dialog")

    def dialog_open(self) -> bool:
        # In the page, not over WebDriver: a closing dialog vanishes between two calls.
        return bool(self.script(DIALOG_OPEN))

    def close_dialog(self, button: str) -> None:
        """Click ``button`` of the open dialog (Save, Close) and wait for the dialog to go."""
        self.click(self.button(button, self.dialog()), button)
        self.wait(lambda _: not self.dialog_open(), f"the dialog to close after {button}")

    def button(self, label: str, within: Any = None) -> Any:
        from selenium.webdriver.support import expected_conditions as ec

        button = self.visible(
            f".//button[normalize-space(.)={xpath_text(label)} or @aria-label={xpath_text(label)}]",
            within,
            what=f"the button {label!r}",
        )
        self.wait(ec.element_to_be_clickable(button), f"the button {label!r} to be enabled")
        return button

    def click(self, element: Any, what: str) -> None:
        """A real click, once nothing (an opening section, a closing menu) lies over ``element``."""
        from selenium.common.exceptions import ElementClickInterceptedException

        self.script("arguments[0].scrollIntoView({block: 'center'});", element)

        def clicked(_: Any) -> bool:
            try:
                element.click()
            except ElementClickInterceptedException:
                return False
            return True

        self.wait(clicked, what)

    def choose(self, combobox: Any, option: str) -> None:
        """Pick ``option`` in a react-select drop-down."""
        combobox.click()
        self.visible(f"//*[@role='option'][normalize-space(.)={xpath_text(option)}]", what=option).click()

    def section(self, title: str, within: Any = None) -> Any:
        """Open the accordion section ``title`` (one is open at a time); returns its content."""
        trigger = self.visible(
            f".//button[@data-part='item-trigger'][normalize-space(.)={xpath_text(title)}]",
            within,
            what=f"the section {title!r}",
        )
        if trigger.get_attribute("aria-expanded") != "true":
            self.click(trigger, f"the section {title!r}")
            self.wait(lambda _: trigger.get_attribute("aria-expanded") == "true", f"{title!r} to open")
        content = self.driver.find_element("id", trigger.get_attribute("aria-controls"))
        # Open once the opening animation is over: the content keeps one height.
        heights: list[int] = []

        def settled(_: Any) -> bool:
            heights.append(content.size["height"])
            return len(heights) > 2 and len(set(heights[-3:])) == 1

        self.wait(settled, f"{title!r} to finish opening")
        return content

    def fill(self, name: str, value: str, within: Any = None) -> None:
        from selenium.webdriver.common.keys import Keys

        field = self.visible(f".//*[@name={xpath_text(name)}]", within, what=f"the field {name}")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.DELETE)
        field.send_keys(value)
        if field.get_attribute("value") != value:
            # A controlled input re-rendering while keys arrive can drop one: type key by key.
            field.send_keys(Keys.CONTROL, "a")
            field.send_keys(Keys.DELETE)
            for length, key in enumerate(value, start=1):
                field.send_keys(key)
                self.wait(lambda _, n=length: field.get_attribute("value") == value[:n], f"{key!r} in {name}")

    def screenshot(self, name: str, element: Any = None) -> Path:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name.replace(' ', '-').replace('/', '-')}.png"
        if element is None:
            self.driver.save_screenshot(str(path))
            return path
        # A tall element (an open form) is shown whole in a window as tall as it.
        size = self.driver.get_window_size()
        height = self.script("return arguments[0].scrollHeight;", element)
        self.driver.set_window_size(size["width"], max(size["height"], height + 200))
        try:
            element.screenshot(str(path))
        finally:
            self.driver.set_window_size(size["width"], size["height"])
        return path

    def script(self, source: str, *args: Any) -> Any:
        return self.driver.execute_script(source, *args)


def xpath_text(text: str) -> str:
    """``text`` as an XPath string literal (XPath 1 has no escapes)."""
    if "'" not in text:
        return f"'{text}'"
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in text.split("'")) + ")"
