// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ISignatureTransfer} from "permit2/src/interfaces/ISignatureTransfer.sol";

/// @notice Devnet stand-in for the base of the published x402 Permit2 proxies, written from their
/// ABI and spec: same function selectors, error names and check order, so a facilitator maps our
/// reverts to the same reasons. Only the test chain runs this code.
abstract contract x402Permit2ProxyBase is ReentrancyGuardTransient {
    /// @dev An immutable, so runtime code copied to another address keeps pointing at Permit2.
    ISignatureTransfer public immutable PERMIT2;

    struct EIP2612Permit {
        uint256 value;
        uint256 deadline;
        bytes32 r;
        bytes32 s;
        uint8 v;
    }

    event Settled();
    event SettledWithPermit();
    /// @notice The token's permit() reverted; settlement went ahead on whatever allowance exists.
    event EIP2612PermitFailed(address indexed token, address indexed owner, bytes reason);

    error InvalidPermit2Address();
    error InvalidAmount();
    error InvalidOwner();
    error InvalidDestination();
    error PaymentTooEarly();
    error Permit2612AmountMismatch();

    constructor(address permit2) {
        if (permit2 == address(0)) revert InvalidPermit2Address();
        PERMIT2 = ISignatureTransfer(permit2);
    }

    /// @dev Split from _pull so the upto proxy can check its caller between the two, where the
    /// published proxy does, and report the same first error for the same bad input.
    function _validate(uint256 amount, address owner, address to) internal pure {
        // A zero transfer would still spend the payer's Permit2 nonce.
        if (amount == 0) revert InvalidAmount();
        if (owner == address(0)) revert InvalidOwner();
        if (to == address(0)) revert InvalidDestination();
    }

    function _pull(
        ISignatureTransfer.PermitTransferFrom calldata permit,
        uint256 amount,
        address owner,
        address to,
        uint256 validAfter,
        bytes32 witnessHash,
        string memory witnessTypeString,
        bytes calldata signature
    ) internal {
        // The upper bound is Permit2's own deadline check (SignatureExpired).
        if (block.timestamp < validAfter) revert PaymentTooEarly();
        ISignatureTransfer.SignatureTransferDetails memory details =
            ISignatureTransfer.SignatureTransferDetails({to: to, requestedAmount: amount});
        PERMIT2.permitWitnessTransferFrom(permit, details, owner, witnessHash, witnessTypeString, signature);
    }

    function _tryPermit(address token, address owner, EIP2612Permit calldata p, uint256 permitted) internal {
        if (p.value != permitted) revert Permit2612AmountMismatch();
        // Not fatal: the signed permit is public once the payment is, so anyone may have submitted
        // it first, or the payer may already have approved Permit2. The transfer decides.
        try IERC20Permit(token).permit(owner, address(PERMIT2), p.value, p.deadline, p.v, p.r, p.s) {}
        catch (bytes memory reason) {
            emit EIP2612PermitFailed(token, owner, reason);
        }
    }
}
