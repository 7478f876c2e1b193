; Scope captures for C (capture meanings: see python.scm).

(function_definition
  declarator: (function_declarator declarator: (identifier) @name)) @function
(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator declarator: (identifier) @name))) @function
(function_definition) @function

(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @class
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @class
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @class

(preproc_def name: (identifier) @name) @variable
(preproc_function_def name: (identifier) @name) @variable
(type_definition declarator: (type_identifier) @name) @variable
(translation_unit
  (declaration declarator: (init_declarator declarator: (identifier) @name)) @variable)
(translation_unit (declaration declarator: (identifier) @name) @variable)

(preproc_ifdef) @namespace
(preproc_if) @namespace
(preproc_else) @namespace
(preproc_elif) @namespace
(linkage_specification) @namespace

(preproc_include) @import

(translation_unit (_) @statement)
(compound_statement (_) @statement)
(field_declaration_list (_) @statement)
(enumerator_list (_) @statement)
(case_statement (_) @statement)
(preproc_ifdef (_) @statement)
(preproc_if (_) @statement)
(preproc_else (_) @statement)
(preproc_elif (_) @statement)
(declaration_list (_) @statement)
