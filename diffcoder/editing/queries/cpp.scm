; Scope captures for C++ (capture meanings: see python.scm).

(function_definition
  declarator: (function_declarator
    declarator: [(identifier) (field_identifier) (qualified_identifier)
                 (destructor_name) (operator_name)] @name)) @function
(function_definition
  declarator: (_ declarator: (function_declarator
    declarator: [(identifier) (field_identifier) (qualified_identifier)] @name))) @function
(function_definition) @function

(field_declaration_list (function_definition) @method)
(field_declaration_list (template_declaration (function_definition) @method))

(class_specifier name: (_) @name body: (field_declaration_list)) @class
(struct_specifier name: (_) @name body: (field_declaration_list)) @class
(union_specifier name: (_) @name body: (field_declaration_list)) @class
(enum_specifier name: (_) @name body: (enumerator_list)) @class

(preproc_def name: (identifier) @name) @variable
(preproc_function_def name: (identifier) @name) @variable
(type_definition declarator: (type_identifier) @name) @variable
(alias_declaration name: (type_identifier) @name) @variable
(translation_unit
  (declaration declarator: (init_declarator declarator: (identifier) @name)) @variable)
(declaration_list
  (declaration declarator: (init_declarator declarator: (identifier) @name)) @variable)

(template_declaration) @wrapper

(namespace_definition) @namespace
(preproc_ifdef) @namespace
(preproc_if) @namespace
(preproc_else) @namespace
(preproc_elif) @namespace
(linkage_specification) @namespace

(preproc_include) @import
(using_declaration) @import

(translation_unit (_) @statement)
(compound_statement (_) @statement)
(field_declaration_list (_) @statement)
(enumerator_list (_) @statement)
(case_statement (_) @statement)
(declaration_list (_) @statement)
(preproc_ifdef (_) @statement)
(preproc_if (_) @statement)
(preproc_else (_) @statement)
(preproc_elif (_) @statement)
