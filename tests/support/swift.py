"""Swift as Swift's grammar reads it (tree-sitter's), since no Swift compiler runs on Debian: its
syntax errors, and the methods each class declares by the names Swift calls them by."""
import tree_sitter_swift
from tree_sitter import Language, Parser

SWIFT = Language(tree_sitter_swift.language())


def read_swift(source):
    """(syntax errors as "line:column text", {class name: (what it conforms to, {method names})}) of
    `source` (text). A method's name is Swift's full one, its argument labels and all:
    webView(_:runJavaScriptAlertPanelWithMessage:initiatedByFrame:completionHandler:). A delegate
    method whose labels are off by one letter still compiles, and is never called."""
    data = source.encode()
    root = Parser(SWIFT).parse(data).root_node
    errors, classes = [], {}

    def text(node):
        return data[node.start_byte:node.end_byte].decode()

    def visit(node):
        if node.type == "ERROR" or node.is_missing:
            errors.append(f"{node.start_point[0] + 1}:{node.start_point[1] + 1} {text(node)[:60]!r}")
        if node.type == "class_declaration":
            name = next(text(child) for child in node.children if child.type == "type_identifier")
            conforms = {text(child) for child in node.children if child.type == "inheritance_specifier"}
            body = next(child for child in node.children if child.type == "class_body")
            methods = {_full_name(function, text) for function in body.children
                       if function.type == "function_declaration"}
            classes[name] = (conforms, methods)
        for child in node.children:
            visit(child)

    visit(root)
    return errors, classes


def _full_name(function, text):
    name = next(text(child) for child in function.children if child.type == "simple_identifier")
    labels = [text(next(part for part in parameter.children if part.type == "simple_identifier"))
              for parameter in function.children if parameter.type == "parameter"]
    return f"{name}({''.join(label + ':' for label in labels)})"
