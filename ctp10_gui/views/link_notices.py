"""Link events said in the main view: changes made elsewhere, scans of other clients, resyncs.

Every link event is also an event row in the recording (recording_controls); these are the
ones the user must see at once, as a sentence above the tabs. A setting changed elsewhere also
has the instrument state read again, so files and panels carry the new values.
"""

from __future__ import annotations

from collections.abc import Callable

from ctp10_gui.hardware.instrument_watch import CHANGED_ELSEWHERE_EVENT, WATCH_OFF_EVENT
from ctp10_gui.hardware.power import RESYNC_EVENT, UNIT_CHANGED_EVENT
from ctp10_gui.link.port import LinkPort


def notice_text(kind: str, text: str) -> str | None:
    """Return the sentence shown for a link event, or None if it is not shown in the view."""
    match kind:
        case "busy_elsewhere":
            return f"Busy: {text} — live data is paused and resumes when the scan ends."
        case "busy_elsewhere_ended":
            return f"{text[:1].upper()}{text[1:]}."
        # Unit changes are said by main_view_notices, gathered into one sentence per burst.
        case _ if kind in (CHANGED_ELSEWHERE_EVENT, RESYNC_EVENT, WATCH_OFF_EVENT):
            return f"{text[:1].upper()}{text[1:]}."
    return None


def connect_link_notices(controller: LinkPort, show: Callable[[str], None],
                         read_state_again: Callable[[], None]) -> None:
    """Show the link events that matter in the view; re-read the state after a change."""

    def on_event(kind: str, text: str) -> None:
        sentence = notice_text(kind, text)
        if sentence is not None:
            show(sentence)
        if kind in (CHANGED_ELSEWHERE_EVENT, UNIT_CHANGED_EVENT):
            read_state_again()

    controller.link_event.connect(on_event)
