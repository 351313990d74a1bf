"""Exchange exports turned into Lyra's ledger (``lyra tax import``, docs/tax.md
"Importing exchange exports")."""
