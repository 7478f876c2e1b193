; Scope captures for Go (capture meanings: see python.scm).

(function_declaration name: (identifier) @name) @function
(method_declaration name: (field_identifier) @name) @method

(type_declaration
  (type_spec name: (type_identifier) @name type: [(struct_type) (interface_type)])) @class

(type_declaration (type_spec name: (type_identifier) @name)) @variable
(const_declaration (const_spec name: (identifier) @name)) @variable
(var_declaration (var_spec name: (identifier) @name)) @variable

(import_declaration) @import

(source_file (_) @statement)
(block (_) @statement)
(statement_list (_) @statement)
(field_declaration_list (_) @statement)
(interface_type (_) @statement)
(import_spec_list (_) @statement)
