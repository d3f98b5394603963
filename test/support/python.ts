// The Python interpreter the cross-language suites run: RUNLEDGER_PYTHON (CI points it at a virtualenv
// with pinned packages), else python3 on PATH. Bytecode is never written next to docs/verify_bundle.py.
export const PYTHON = process.env.RUNLEDGER_PYTHON || 'python3';
process.env.PYTHONDONTWRITEBYTECODE = '1';
