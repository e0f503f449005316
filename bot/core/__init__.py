"""The pure domain: money, the command grammar, the payment state machine and SCA policy.

Only the standard library may be imported here (enforced by tests/unit/test_dependency_rule.py).
"""
