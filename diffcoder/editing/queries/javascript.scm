; Scope captures for JavaScript/JSX (capture meanings: see python.scm).

(function_declaration name: (identifier) @name) @function
(generator_function_declaration name: (identifier) @name) @function
(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)]) @function)
(variable_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)]) @function)

(method_definition name: (_) @name) @method

(class_declaration name: (identifier) @name) @class

(program (lexical_declaration (variable_declarator name: (identifier) @name)) @variable)
(program (variable_declaration (variable_declarator name: (identifier) @name)) @variable)
(class_body (field_definition property: (_) @name) @variable)

; A function held by a declaration (`const f = () => …`) is its declarator, so the cursor's column
; tells apart `const a = () => 1, b = () => 2`; the declaration around it is a wrapper.
(export_statement) @wrapper
(lexical_declaration) @wrapper
(variable_declaration) @wrapper

(import_statement) @import

(program (_) @statement)
(statement_block (_) @statement)
(class_body (_) @statement)
(switch_body (_) @statement)
(switch_case body: (_) @statement)
(switch_default body: (_) @statement)
