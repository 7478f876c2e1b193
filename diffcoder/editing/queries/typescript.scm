; Scope captures for TypeScript and TSX (capture meanings: see python.scm).

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

(class_declaration name: (_) @name) @class
(abstract_class_declaration name: (_) @name) @class
(interface_declaration name: (_) @name) @class
(enum_declaration name: (_) @name) @class

(program (lexical_declaration (variable_declarator name: (identifier) @name)) @variable)
(program (variable_declaration (variable_declarator name: (identifier) @name)) @variable)
(type_alias_declaration name: (_) @name) @variable
(class_body (public_field_definition name: (_) @name) @variable)

; A function held by a declaration (`const f = () => …`) is its declarator, so the cursor's column
; tells apart `const a = () => 1, b = () => 2`; the declaration around it is a wrapper.
(export_statement) @wrapper
(lexical_declaration) @wrapper
(variable_declaration) @wrapper

(internal_module) @namespace
(module) @namespace

(import_statement) @import
(import_alias) @import

(program (_) @statement)
(statement_block (_) @statement)
(class_body (_) @statement)
(interface_body (_) @statement)
(enum_body (_) @statement)
(switch_body (_) @statement)
(switch_case body: (_) @statement)
(switch_default body: (_) @statement)
