; Scope captures for Java (capture meanings: see python.scm).

(method_declaration name: (identifier) @name) @method
(constructor_declaration name: (identifier) @name) @method
(compact_constructor_declaration name: (identifier) @name) @method

(class_declaration name: (identifier) @name) @class
(interface_declaration name: (identifier) @name) @class
(enum_declaration name: (identifier) @name) @class
(record_declaration name: (identifier) @name) @class
(annotation_type_declaration name: (identifier) @name) @class

(field_declaration declarator: (variable_declarator name: (identifier) @name)) @variable
(constant_declaration declarator: (variable_declarator name: (identifier) @name)) @variable

(import_declaration) @import

(program (_) @statement)
(block (_) @statement)
(constructor_body (_) @statement)
(class_body (_) @statement)
(interface_body (_) @statement)
(enum_body (_) @statement)
(enum_body_declarations (_) @statement)
(switch_block (_) @statement)
(switch_block_statement_group (_) @statement)
