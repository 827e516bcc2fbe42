"""IEEE 488.2 common commands and the status/error queries of the simulated CTP10."""

from __future__ import annotations

from ctp10_gui.simulator.dispatch import Dispatcher
from ctp10_gui.simulator.facts import DETECTOR_MODULE_NAME, MODULE_SLOTS, STATUS_BYTE_ERROR_QUEUE
from ctp10_gui.simulator.parser import no_params
from ctp10_gui.simulator.state import InstrumentState


class CommonCommands:
    """*IDN?, *OPC?, *STB?, *OPT?, *CLS, *RST …, SYSTem:ERRor?, STATus:OPERation:CONDition?."""

    def __init__(self, state: InstrumentState) -> None:
        self._state = state

    def register(self, dispatcher: Dispatcher) -> None:
        """Declare these commands on dispatcher."""
        common = dispatcher.add_common
        common("*IDN?", self._q_idn)
        common("*OPC?", self._q_one)  # does not wait for a scan (the reference leaves it unsure)
        common("*OPC", no_params)
        common("*WAI", no_params)
        common("*CLS", self._cls)
        common("*RST", self._rst)
        common("*ESR?", self._q_zero)
        common("*STB?", self._q_status_byte)
        common("*OPT?", self._q_options)
        dispatcher.add("SYSTem:ERRor[:NEXT]", query=self._q_error)
        dispatcher.add("STATus:OPERation:CONDition", query=self._q_condition)

    def _q_idn(self, params: list[str]) -> str:
        no_params(params)
        return f"EXFO,CTP10,{self._state.serial},{self._state.options.firmware}"

    @staticmethod
    def _q_one(params: list[str]) -> str:
        no_params(params)
        return "1"

    @staticmethod
    def _q_zero(params: list[str]) -> str:
        no_params(params)
        return "0"

    def _q_status_byte(self, params: list[str]) -> str:
        # Only the error-queue bit is modelled: no service request enable, no event registers.
        no_params(params)
        return str(STATUS_BYTE_ERROR_QUEUE if self._state.error_queue else 0)

    def _q_options(self, params: list[str]) -> str:
        # IEEE 488.2 *OPT?: one field per option position, "0" where nothing is installed;
        # the CTP10's options are its module slots 1–20.
        no_params(params)
        installed = {module for module, _ in self._state.detectors}
        return ",".join(
            DETECTOR_MODULE_NAME if slot in installed else "0"
            for slot in range(MODULE_SLOTS[0], MODULE_SLOTS[1] + 1)
        )

    def _q_condition(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        return str(self._state.condition())

    def _cls(self, params: list[str]) -> None:
        no_params(params)
        self._state.error_queue.clear()

    def _rst(self, params: list[str]) -> None:
        no_params(params)
        self._state.reset()

    def _q_error(self, s: list[int], p: list[str]) -> str:
        no_params(p)
        queue = self._state.error_queue
        if not queue:
            return "0,No error"
        code, text = queue.popleft()
        return f'{code},"{text}"'
