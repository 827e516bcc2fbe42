"""SCPI message dispatch: the command table, header resolution and its caches, reply joining."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ctp10_gui.simulator.parser import (
    Node,
    ScpiError,
    compile_pattern,
    match_nodes,
    split_command,
    split_outside_quotes,
    tokenize_header,
)

Reply = str | bytes | None
Handler = Callable[[list[int], list[str]], Reply]
CommonHandler = Callable[[list[str]], str | None]
# One resolved message unit: (handler, header suffixes, parameter strings).
Unit = tuple[Handler, tuple[int, ...], list[str]]
# Replaces the units of a message with one equivalent unit, or returns None to leave them.
Batcher = Callable[[list[Unit]], Unit | None]
Path = tuple[tuple[str, int | None], ...]

_CACHE_ENTRIES = 4096


@dataclass(frozen=True)
class Command:
    """A header pattern and its query and set handlers (None = that form is undefined)."""

    nodes: tuple[Node, ...]
    query: Handler | None
    set: Handler | None


def _raising(error: ScpiError) -> Handler:
    """Return a handler that raises error (a header that did not resolve)."""

    def handler(_suffixes: list[int], _params: list[str]) -> None:
        raise error

    return handler


def _common_handler(common: CommonHandler) -> Handler:
    """Adapt a common command (*IDN? …, parameters only) to the handler signature."""
    return lambda _suffixes, params: common(params)


class Dispatcher:
    """Answer SCPI messages from a table of header patterns (IEEE 488.2 message rules).

    Replies are str without terminator, bytes for a message holding a binary block (complete,
    terminator included) or None when the message has no reply. Errors go to push_error.
    Not thread-safe: the caller serialises messages.
    """

    def __init__(
        self, push_error: Callable[[ScpiError], None], *, compound: bool, block_trailer: bool
    ) -> None:
        self._push_error = push_error
        self._compound = compound
        self._block_trailer = block_trailer
        self._commands: dict[str, list[Command]] = {}
        self._common: dict[str, CommonHandler] = {}
        self._batchers: list[Batcher] = []
        self._resolve_cache: dict[tuple[Path, str], tuple[Command, tuple[int, ...], Path]] = {}
        self._message_cache: dict[str, tuple[Unit, ...]] = {}

    def add(self, pattern: str, query: Handler | None = None, set_: Handler | None = None) -> None:
        """Declare a header pattern ('CTP:SENSe#:CHANnel#:POWer', # = numeric suffix)."""
        nodes = compile_pattern(pattern)
        command = Command(nodes, query, set_)
        for name in {nodes[0].long, nodes[0].short}:
            self._commands.setdefault(name, []).append(command)

    def add_common(self, header: str, handler: CommonHandler) -> None:
        """Declare a common command ('*IDN?', '*RST'), exact header, parameters only."""
        self._common[header] = handler

    def add_batcher(self, batcher: Batcher) -> None:
        """Let batcher answer a whole resolved message in one unit (e.g. compound power)."""
        self._batchers.append(batcher)

    def handle(self, line: str) -> Reply:
        """Answer one message (one line, maybe 'A;B?;C?'): reply text, block bytes or None."""
        units = self._message_cache.get(line)
        if units is None:
            parts = [p for p in split_outside_quotes(line.strip(), ";") if p.strip()]
            if not parts:
                return None
            if len(parts) > 1 and not self._compound:
                self._push_error(ScpiError(-113, "compound message not supported"))
                return None
            units, resolved = self._compile(parts)
            if resolved:  # a message with a header error is not worth keeping
                if len(self._message_cache) > _CACHE_ENTRIES:
                    self._message_cache.clear()
                self._message_cache[line] = units
        replies: list[str | bytes] = []
        binary = False
        for handler, suffixes, params in units:
            try:
                reply = handler(list(suffixes), params)
            except ScpiError as exc:
                self._push_error(exc)
                if exc.is_command_error:
                    break  # IEEE 488.2: a command error discards the rest of the message
                continue
            if reply is not None:
                replies.append(reply)
                binary = binary or reply.__class__ is bytes
        if replies and not binary:
            return ";".join(replies)  # type: ignore[arg-type]  # all str here
        return self._join(replies)

    def _compile(self, parts: list[str]) -> tuple[tuple[Unit, ...], bool]:
        """Resolve every unit of a message once; return the units and whether all resolved.

        Live polling sends the same message thousands of times a second; a real instrument
        answers the extra units of a compound query for next to nothing, so resolving each
        message once keeps the simulator from charging a Python parse per unit. A header
        that does not resolve becomes a unit raising its error in turn when run.
        """
        units: list[Unit] = []
        path: Path = ()
        resolved = True
        for part in parts:
            try:
                handler, suffixes, params, path = self._resolve_unit(part, path)
            except ScpiError as exc:
                units.append((_raising(exc), (), []))
                resolved = False
                if exc.is_command_error:
                    break  # the rest of the message is discarded anyway
                continue
            units.append((handler, suffixes, params))
        if resolved and len(units) > 1:
            for batcher in self._batchers:
                batched = batcher(units)
                if batched is not None:
                    return (batched,), resolved
        return tuple(units), resolved

    def _join(self, replies: list[str | bytes]) -> Reply:
        if not replies:
            return None
        chunks: list[bytes] = []
        for i, reply in enumerate(replies):
            last = i == len(replies) - 1
            if isinstance(reply, bytes):
                if not last and self._block_trailer:
                    reply = reply[:-2]  # the trailer only ends the whole message
                chunks.append(reply)
            else:
                chunks.append(reply.encode("latin-1") + (b"\r\n" if last else b""))
        return b";".join(chunks)

    def _resolve_unit(
        self, part: str, path: Path
    ) -> tuple[Handler, tuple[int, ...], list[str], Path]:
        """Return (handler, header suffixes, parameters, path after the unit) of one unit."""
        header, is_query, params = split_command(part)
        if header.startswith("*"):
            common = self._common.get(header.upper() + ("?" if is_query else ""))
            if common is None:
                raise ScpiError(-113, header)
            return _common_handler(common), (), params, path
        absolute = header.startswith(":")
        key = (path if not absolute else (), header.upper())
        resolved = self._resolve_cache.get(key)
        if resolved is None:
            resolved = self._resolve(header, absolute, path)
            if len(self._resolve_cache) > _CACHE_ENTRIES:
                self._resolve_cache.clear()
            self._resolve_cache[key] = resolved
        command, suffixes, new_path = resolved
        handler = command.query if is_query else command.set
        if handler is None:
            raise ScpiError(-113, f"{header} has no {'query' if is_query else 'set'} form")
        return handler, suffixes, params, new_path

    def _resolve(
        self, header: str, absolute: bool, path: Path
    ) -> tuple[Command, tuple[int, ...], Path]:
        tokens = tokenize_header(header)
        candidates = [tokens] if absolute or not path else [[*path, *tokens], tokens]
        for candidate in candidates:
            for command in self._commands.get(candidate[0][0], []):
                suffixes = match_nodes(command.nodes, candidate)
                if suffixes is not None:
                    return command, tuple(suffixes), tuple(candidate[:-1])
        raise ScpiError(-113, header)
