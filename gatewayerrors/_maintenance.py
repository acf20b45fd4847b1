"""The maintenance switch: a store's state kept in memory, refreshed in the background.

A request never reads the store: it reads one attribute of :class:`MaintenanceSwitch` (the
last state refreshed) and compares the window with ``time.time()``. A daemon thread reads the
store every ``interval`` seconds; it starts with the app (when the translator is built), is
restarted in a child after ``fork`` (gunicorn's ``--preload`` forks workers from a process
whose threads do not survive the fork), and is stopped at process exit.

Never worse than no store: when a read fails (unreachable, timeout, garbage) the last known
state is kept for ``grace`` seconds after the last good read, then the switch is off until the
store answers again. A store outage is logged once when it starts and once when it ends, never
per refresh or per request.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING

from ._maintenance_state import MaintenanceState, StoreError

if TYPE_CHECKING:
    from ._maintenance_state import MaintenanceStore

__all__ = ["MaintenanceSwitch"]

_switches: weakref.WeakSet[MaintenanceSwitch] = weakref.WeakSet()


class MaintenanceSwitch:
    """A store's maintenance state, in memory for requests, refreshed by a background thread."""

    def __init__(
        self,
        store: MaintenanceStore,
        *,
        interval: float = 0.5,
        grace: float = 60.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.interval = interval
        self.grace = grace
        self.logger = logger or logging.getLogger("gatewayerrors")
        self._state: MaintenanceState | None = None
        self._window: tuple[float, float] | None = None
        self.refreshes = 0
        """How many times the store was read (a counter, for tests and metrics)."""
        self.failing = False
        """True while the store cannot be read."""
        self._last_good = time.monotonic()
        self._expired = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        _switches.add(self)

    # -- the request path: memory only ---------------------------------------------------

    def is_active(self) -> bool:
        """Whether maintenance is on right now. Reads no store: one attribute and the clock."""
        window = self._window
        if window is None:  # off, or no state: the usual case costs one attribute read
            return False
        return window[0] <= time.time() < window[1]

    def active(self) -> MaintenanceState | None:
        """The state when maintenance is on right now, else None. Reads no store."""
        state = self.state
        return state if state is not None and self.is_active() else None

    @property
    def state(self) -> MaintenanceState | None:
        """The state requests see: the last one read (None: none stored, or not read yet)."""
        return self._state

    @state.setter
    def state(self, state: MaintenanceState | None) -> None:
        # The window as two timestamps, computed once per change rather than per request;
        # set before the state, so that a reader never pairs a new state with an old window.
        if state is None or not state.on:
            window = None
        else:
            start = float("-inf") if state.start is None else state.start.timestamp()
            end = float("inf") if state.end is None else state.end.timestamp()
            window = (start, end)
        self._window = window
        self._state = state

    # -- the background ------------------------------------------------------------------

    def start(self) -> None:
        """Start the refresher thread (one refresh first, in it), unless it runs already."""
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            # A stop event per thread: one stopped without a join may still finish its read,
            # and must not be revived by the next start.
            self._stop = stop = threading.Event()
            self._thread = threading.Thread(
                target=_refresh_loop,
                args=(weakref.ref(self), stop, self.interval),
                name="gatewayerrors-maintenance",
                daemon=True,
            )
            self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the refresher thread and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def refresh(self) -> None:
        """Read the store once and update the state. Never raises."""
        self.refreshes += 1
        try:
            state = self.store.read()
            if state is not None and not isinstance(state, MaintenanceState):
                raise StoreError(f"read() returned {type(state).__name__}, not a state")
        except Exception as exc:
            self._failed(exc)
            return
        self.state = state
        self._last_good = time.monotonic()
        self._expired = False
        if self.failing:
            self.failing = False
            self.logger.warning("gatewayerrors: maintenance store %r answers again", self.store)

    def _failed(self, exc: Exception) -> None:
        if not self.failing:
            self.failing = True
            # The exception's class only: its message may hold a host, a port or a password.
            self.logger.warning(
                "gatewayerrors: maintenance store %r cannot be read (%s); keeping the last "
                "known state for %ss",
                self.store,
                type(exc).__name__,
                self.grace,
            )
        if not self._expired and time.monotonic() - self._last_good > self.grace:
            self._expired = True
            if self.state is not None:
                self.state = None
                self.logger.warning(
                    "gatewayerrors: maintenance store %r still unreadable after %ss; "
                    "maintenance mode is off until it answers",
                    self.store,
                    self.grace,
                )

    def _after_fork(self) -> None:
        # Only the forking thread survives a fork: a refresher that ran in the parent is gone.
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        if self._thread is not None:
            self._thread = None
            self.start()


def _refresh_loop(
    switch_ref: weakref.ref[MaintenanceSwitch], stop: threading.Event, interval: float
) -> None:
    # A weak reference: a switch nobody uses any more (a translator thrown away) is collected,
    # and its thread ends at the next turn instead of polling for nobody until exit.
    while not stop.is_set():
        switch = switch_ref()
        if switch is None:
            return
        switch.refresh()
        del switch
        stop.wait(interval)


def _restart_after_fork() -> None:
    for switch in list(_switches):
        switch._after_fork()


def _stop_all() -> None:
    # Every thread told first, then one second in all to finish: daemon threads never hold up
    # the exit, this only lets a read in flight end cleanly.
    switches = list(_switches)
    for switch in switches:
        switch._stop.set()
    deadline = time.monotonic() + 1.0
    for switch in switches:
        switch.stop(timeout=max(0.0, deadline - time.monotonic()))


os.register_at_fork(after_in_child=_restart_after_fork)
atexit.register(_stop_all)
