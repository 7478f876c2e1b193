; Scope captures for Python (see diffcoder/editing/regions.py for how each capture is used).
; @function/@method/@class: definitions a cursor can select; @name: their identifier.
; @variable: other named definitions an instruction may mention; @wrapper: nodes that carry a
; definition (decorators); @namespace: transparent containers; @import: import statements;
; @statement: children of blocks.

(function_definition name: (identifier) @name) @function

(class_definition
  body: (block (function_definition name: (identifier) @name) @method))
(class_definition
  body: (block (decorated_definition
    definition: (function_definition name: (identifier) @name) @method)))

(class_definition name: (identifier) @name) @class

(module (expression_statement (assignment left: (identifier) @name)) @variable)
(class_definition
  body: (block (expression_statement (assignment left: (identifier) @name)) @variable))

(decorated_definition) @wrapper

(import_statement) @import
(import_from_statement) @import
(future_import_statement) @import

(module (_) @statement)
(block (_) @statement)
