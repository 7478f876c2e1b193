; Scope captures for Rust (capture meanings: see python.scm).

(function_item name: (identifier) @name) @function
(macro_definition name: (identifier) @name) @function

(impl_item body: (declaration_list (function_item) @method))
(trait_item body: (declaration_list (function_item) @method))

(impl_item type: (_) @name) @class
(trait_item name: (type_identifier) @name) @class
(struct_item name: (type_identifier) @name) @class
(enum_item name: (type_identifier) @name) @class
(union_item name: (type_identifier) @name) @class

(const_item name: (identifier) @name) @variable
(static_item name: (identifier) @name) @variable
(type_item name: (type_identifier) @name) @variable

(mod_item body: (declaration_list)) @namespace

(use_declaration) @import
(extern_crate_declaration) @import

(source_file (_) @statement)
(block (_) @statement)
(declaration_list (_) @statement)
(field_declaration_list (_) @statement)
(enum_variant_list (_) @statement)
(match_block (_) @statement)
