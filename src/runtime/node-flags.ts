// The V8 heap settings the production entry points run with (package.json's start scripts and
// the Dockerfile's ENTRYPOINT carry them; test/unit/node-flags.test.ts holds them to this list,
// and the bench starts the facilitator with them). Both only shape how the heap grows, neither
// is a ceiling: a process whose live heap needs more still gets it, as with V8's defaults.
// Under the settlement bench's load (1,000 payments, 400 in flight) they took the peak RSS from
// about 190 MiB to about 160 MiB (api) and 145 MiB (worker), the rate within the bench's
// run-to-run spread.
export const NODE_FLAGS = [
  // A young generation of 2 × 8 MiB instead of up to 2 × 16 MiB: under load V8 grows it to the
  // maximum and keeps it, and it is mostly garbage between scavenges.
  "--max-semi-space-size=8",
  // The old generation's next collection at 1.4 × its live size, not V8's adaptive factor (up to
  // 4× in a process that allocates fast), which let garbage pile up to twice the live heap.
  "--heap-growing-percent=40",
] as const;
