"""The formula language (公式语言): parse, check, evaluate, compile to SQL.

The contract is ``docs/formula.md``. Layers inside the package:
``parser`` (Lark grammar → AST), ``checker`` (names, types, dependencies,
located errors with suggestions), ``evaluator`` (row formulas in Python with
exact decimals), ``sql`` (row formulas → SQLAlchemy column expressions,
aggregate formulas → one grouped query).
"""
