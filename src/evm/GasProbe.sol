// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// Runs each call in turn and reports the gas it used (zero when it failed) and what it returned.
/// Never deployed: the worker places this code at an unused address for the length of one
/// eth_call (src/evm/gas-probe.ts).
contract GasProbe {
    function probe(
        address[] calldata targets,
        bytes[] calldata data
    ) external returns (uint256[] memory used, bytes[] memory results) {
        used = new uint256[](targets.length);
        results = new bytes[](targets.length);
        for (uint256 i = 0; i < targets.length; ++i) {
            uint256 before = gasleft();
            (bool ok, bytes memory result) = targets[i].call(data[i]);
            uint256 spent = before - gasleft();
            used[i] = ok ? spent : 0;
            results[i] = result;
        }
    }
}
