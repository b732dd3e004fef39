#!/usr/bin/env python3
"""Writes Sources/Networking/API/NeutronPolicyDefaults.swift from Neutron's
neutron/conf/policies/*.py: every rule's name, (new default) check string and scope types,
as Neutron registers them.

Neutron is not imported (it is usually not installed): the policy modules are read from
git mirrors with `git show` and their `rules` lists are evaluated by a small evaluator over
the Python AST. It understands exactly what those modules use to build check strings --
string literals, `+`, `%` formatting, f-strings, module constants (including those of
neutron_lib.policy and neutron_lib.policy.rules, read from the neutron-lib mirror) and
helpers of the form `def f(*args): return SEP.join(args)` (policy_or / policy_and) -- and
fails loudly on anything else. Deprecated rules, descriptions and operations are ignored.

    scripts/dev/neutron-policy-defaults.py [NEUTRON_GIT_DIR] [--neutron-lib GIT_DIR]
        [--rev REV] [-o OUTPUT|-]
"""
import argparse
import ast
import os
import subprocess
import sys

DEFAULT_NEUTRON = "/work/.mirror/openstack+neutron/repo"
DEFAULT_NEUTRON_LIB = "/work/.mirror/openstack+neutron-lib/repo"
POLICY_DIR = "neutron/conf/policies"
DEFAULT_OUTPUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..",
    "Sources", "Network", "API", "NeutronPolicyDefaults.swift")


class GenerationError(Exception):
    pass


class Unknown:
    """A value the evaluator does not model (oslo_log, operations, ...). Harmless unless a
    rule's name, check string or scope types depend on it."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return f"<unknown {self.what}>"


class Rule:
    def __init__(self, name, check_str, scope_types, origin):
        self.name, self.check_str, self.scope_types, self.origin = name, check_str, scope_types, origin


class RuleFactory:
    """oslo_policy.policy.RuleDefault / DocumentedRuleDefault: only the parameters that
    matter here are evaluated; the positional order follows oslo.policy's signatures."""

    def __init__(self, positional):
        self.positional = positional


OSLO_POLICY = {
    "RuleDefault": RuleFactory(["name", "check_str", "description", "deprecated_rule",
                                "deprecated_for_removal", "deprecated_reason",
                                "deprecated_since", "scope_types"]),
    "DocumentedRuleDefault": RuleFactory(["name", "check_str", "description", "operations",
                                          "deprecated_rule", "deprecated_for_removal",
                                          "deprecated_reason", "deprecated_since",
                                          "scope_types"]),
}


class JoinHelper:
    """A function whose whole body is `return SEP.join(args)` over its *args."""

    def __init__(self, name, separator):
        self.name, self.separator = name, separator

    def __call__(self, *args):
        if not all(isinstance(a, str) for a in args):
            raise GenerationError(f"{self.name}() called with non-string arguments {args!r}")
        return self.separator.join(args)


class Module:
    def __init__(self, name):
        self.name = name
        self.namespace = {}

    def __repr__(self):
        return f"<module {self.name}>"


class Loader:
    def __init__(self, repos, rev):
        # repos: top-level package -> (git dir, revision)
        self.repos = repos
        self.rev = rev
        self.modules = {}

    def _git_show(self, package, path):
        git_dir, rev = self.repos[package]
        result = subprocess.run(["git", "--git-dir", git_dir, "show", f"{rev}:{path}"],
                                capture_output=True, text=True)
        return result.stdout if result.returncode == 0 else None

    def commit(self, package):
        git_dir, rev = self.repos[package]
        return subprocess.run(["git", "--git-dir", git_dir, "rev-parse", f"{rev}^{{commit}}"],
                              check=True, capture_output=True, text=True).stdout.strip()

    def list_policy_files(self):
        git_dir, rev = self.repos["neutron"]
        names = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "--name-only",
                                f"{rev}", f"{POLICY_DIR}/"],
                               check=True, capture_output=True, text=True).stdout.split()
        return sorted(os.path.basename(n)[:-3] for n in names
                      if n.endswith(".py") and not n.endswith("/__init__.py"))

    def module(self, dotted):
        """The module `dotted`, or None if it is not in a mirror we read."""
        if dotted in self.modules:
            return self.modules[dotted]
        package = dotted.split(".")[0]
        if package not in self.repos:
            return None
        path = dotted.replace(".", "/")
        source = self._git_show(package, path + ".py")
        if source is None:
            source = self._git_show(package, path + "/__init__.py")
        if source is None:
            return None
        module = Module(dotted)
        self.modules[dotted] = module  # before evaluating, in case of import cycles
        Evaluator(self, module, f"{path}.py").run(ast.parse(source, filename=dotted))
        return module

    def import_from(self, base, name):
        """`from base import name`: a submodule if there is one, else an attribute."""
        if base == "oslo_policy" and name == "policy":
            return OSLO_POLICY
        sub = self.module(f"{base}.{name}")
        if sub is not None:
            return sub
        parent = self.module(base)
        if parent is not None and name in parent.namespace:
            return parent.namespace[name]
        return Unknown(f"{base}.{name}")


class Evaluator:
    def __init__(self, loader, module, filename):
        self.loader, self.module, self.filename = loader, module, filename

    def fail(self, node, message):
        raise GenerationError(f"{self.filename}:{getattr(node, 'lineno', '?')}: {message}")

    def run(self, tree):
        ns = self.module.namespace
        for stmt in tree.body:
            if isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if stmt.level:  # relative import: not used by the policy modules
                        ns[alias.asname or alias.name] = Unknown(f"relative import {alias.name}")
                    else:
                        ns[alias.asname or alias.name] = self.loader.import_from(stmt.module, alias.name)
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        ns[alias.asname] = self.loader.module(alias.name) or Unknown(alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        ns[top] = self.loader.module(top) or Unknown(top)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                if stmt.value is None:
                    continue
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                value = self.eval(stmt.value)
                for target in targets:
                    # Other targets (tuples, attributes) are not modelled; a name bound by
                    # one of them stays unknown and fails loudly if a rule needs it.
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            ns[name.id] = value if name is target else Unknown(f"name {name.id}")
            elif isinstance(stmt, ast.AugAssign):
                if isinstance(stmt.target, ast.Name):
                    ns[stmt.target.id] = Unknown(f"augmented name {stmt.target.id}")
            elif isinstance(stmt, ast.FunctionDef):
                ns[stmt.name] = self.function(stmt)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # docstring
            else:
                # try/if/for/class/...: not expected around policy definitions. Names they
                # would bind stay undefined, so a rule that needs one fails loudly.
                continue

    def function(self, node):
        a = node.args
        body = [s for s in node.body
                if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if (a.vararg and not a.args and not a.posonlyargs and not a.kwonlyargs and not a.kwarg
                and len(body) == 1 and isinstance(body[0], ast.Return)):
            call = body[0].value
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "join" and isinstance(call.func.value, ast.Constant)
                    and isinstance(call.func.value.value, str) and not call.keywords
                    and len(call.args) == 1 and isinstance(call.args[0], ast.Name)
                    and call.args[0].id == a.vararg.arg):
                return JoinHelper(node.name, call.func.value.value)
        return Unknown(f"function {self.module.name}.{node.name}")

    def eval(self, node):
        """Evaluates an expression; anything not modelled becomes Unknown (not an error),
        so that module-level documentation constants do not stop generation."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.module.namespace:
                return self.module.namespace[node.id]
            return Unknown(f"name {node.id}")
        if isinstance(node, ast.Attribute):
            owner = self.eval(node.value)
            if isinstance(owner, Module):
                if node.attr in owner.namespace:
                    return owner.namespace[node.attr]
                return Unknown(f"{owner.name}.{node.attr}")
            if isinstance(owner, dict) and owner is OSLO_POLICY:
                return OSLO_POLICY.get(node.attr, Unknown(f"oslo_policy.policy.{node.attr}"))
            return Unknown(f"attribute {node.attr}")
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.eval(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                return Unknown("dict with ** unpacking")
            return {self.hashable(self.eval(k)): self.eval(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(v.value)
                    continue
                if v.conversion != -1 or v.format_spec is not None:
                    return Unknown("f-string with conversion or format spec")
                value = self.eval(v.value)
                if not isinstance(value, str):
                    return Unknown("f-string with non-string value")
                parts.append(value)
            return "".join(parts)
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left), self.eval(node.right)
            if isinstance(left, Unknown) or isinstance(right, Unknown):
                return Unknown("operand")
            if isinstance(node.op, ast.Add) and type(left) is type(right) and isinstance(left, (str, list, tuple)):
                return left + right
            if isinstance(node.op, ast.Mod) and isinstance(left, str):
                if isinstance(right, tuple) and not all(isinstance(x, str) for x in right):
                    return Unknown("% with non-string operands")
                if not isinstance(right, (str, tuple, dict)):
                    return Unknown("% with non-string operand")
                try:
                    return left % right
                except (TypeError, ValueError, KeyError):
                    return Unknown("failing % formatting")
            return Unknown(f"operator {type(node.op).__name__}")
        if isinstance(node, ast.Call):
            func = self.eval(node.func)
            if isinstance(func, RuleFactory):
                return self.rule(node, func)
            if isinstance(func, JoinHelper):
                if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                    self.fail(node, f"unsupported call form of {func.name}()")
                args = [self.eval(a) for a in node.args]
                for a, arg_node in zip(args, node.args):
                    if isinstance(a, Unknown):
                        self.fail(arg_node, f"cannot evaluate argument of {func.name}(): {a!r}")
                return func(*args)
            return Unknown("call")
        return Unknown(type(node).__name__)

    @staticmethod
    def hashable(value):
        return value if isinstance(value, (str, int, float, bool, type(None), tuple)) else repr(value)

    def rule(self, node, factory):
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            self.fail(node, "*args / **kwargs in a rule definition are not supported")
        bound = dict(zip(factory.positional, node.args))
        if len(node.args) > len(factory.positional):
            self.fail(node, "too many positional arguments in a rule definition")
        for keyword in node.keywords:
            if keyword.arg in bound:
                self.fail(node, f"argument {keyword.arg} given twice")
            bound[keyword.arg] = keyword.value
        values = {}
        for key in ("name", "check_str", "scope_types"):
            if key not in bound:
                values[key] = None
                continue
            value = self.eval(bound[key])
            if isinstance(value, Unknown):
                self.fail(bound[key], f"cannot evaluate {key}: {value!r}")
            values[key] = value
        if not isinstance(values["name"], str):
            self.fail(node, f"rule name is not a string: {values['name']!r}")
        if not isinstance(values["check_str"], str):
            self.fail(node, f"check_str of {values['name']} is not a string: {values['check_str']!r}")
        scopes = values["scope_types"]
        if scopes is not None and not (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)):
            self.fail(node, f"scope_types of {values['name']} is not a list of strings: {scopes!r}")
        return Rule(values["name"], values["check_str"], scopes or [], f"{self.filename}:{node.lineno}")


def policy_modules(loader):
    """The policy modules in the order neutron.conf.policies.list_rules() chains them;
    every module file in the directory must be part of that chain."""
    init = loader._git_show("neutron", f"{POLICY_DIR}/__init__.py")
    tree = ast.parse(init)
    order = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "list_rules":
            for call in ast.walk(stmt):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "list_rules" and isinstance(call.func.value, ast.Name)):
                    order.append(call.func.value.id)
    files = loader.list_policy_files()
    if sorted(order) != files:
        raise GenerationError(
            f"{POLICY_DIR}/__init__.py list_rules() chains {sorted(set(order) ^ set(files))} "
            "differently from the files in the directory")
    return order


def swift_string(text):
    out = ['"']
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\0":
            out.append("\\0")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):X}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def collect(loader):
    rules = {}
    for name in policy_modules(loader):
        module = loader.module(f"neutron.conf.policies.{name}")
        listed = module.namespace.get("rules")
        if not isinstance(listed, list) or not all(isinstance(r, Rule) for r in listed):
            raise GenerationError(f"{POLICY_DIR}/{name}.py: `rules` is not a list of rule defaults")
        for rule in listed:
            if rule.name in rules:
                raise GenerationError(f"duplicate rule {rule.name}: {rules[rule.name].origin} and {rule.origin}")
            rules[rule.name] = rule
    return rules


def referenced_rules(check_str):
    """`rule:X` references, tokenized as oslo.policy does (whitespace, outer parens)."""
    names = []
    for word in check_str.split():
        word = word.lstrip("(").rstrip(")")
        if word.startswith("rule:"):
            names.append(word[len("rule:"):])
    return names


def render(rules, neutron_commit, lib_commit):
    lines = [
        "// Generated by scripts/dev/neutron-policy-defaults.py from Neutron's neutron/conf/policies/*.py",
        f"// at openstack/neutron {neutron_commit}",
        f"// (shared constants from openstack/neutron-lib {lib_commit}):",
        "// the default rules (name, check string, scope types) exactly as Neutron registers them;",
        "// deprecated rules are not included. Do not edit by hand.",
        "",
        "/// Neutron's default policy (secure RBAC: admin, project manager/member/reader, parent-resource",
        "/// owner; project scope).",
        "public enum NeutronPolicyDefaults {",
        "    public static let rules: [String: String] = [",
    ]
    for name in sorted(rules):
        lines.append(f"        {swift_string(name)}: {swift_string(rules[name].check_str)},")
    lines.append("    ]")
    lines.append("")
    scoped = [name for name in sorted(rules) if rules[name].scope_types]
    if scoped:
        lines.append("    public static let scopeTypes: [String: Set<String>] = [")
        for name in scoped:
            scopes = ", ".join(swift_string(s) for s in rules[name].scope_types)
            lines.append(f"        {swift_string(name)}: [{scopes}],")
        lines.append("    ]")
    else:
        lines.append("    public static let scopeTypes: [String: Set<String>] = [:]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("neutron", nargs="?", default=DEFAULT_NEUTRON,
                        help=f"Neutron git dir (default {DEFAULT_NEUTRON})")
    parser.add_argument("--neutron-lib", default=DEFAULT_NEUTRON_LIB,
                        help=f"neutron-lib git dir (default {DEFAULT_NEUTRON_LIB})")
    parser.add_argument("--rev", default="HEAD", help="Neutron revision to read (default HEAD)")
    parser.add_argument("--lib-rev", default="HEAD", help="neutron-lib revision to read (default HEAD)")
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT,
                        help="output file, or - for stdout (default Sources/Networking/API/NeutronPolicyDefaults.swift)")
    args = parser.parse_args()

    loader = Loader({"neutron": (args.neutron, args.rev),
                     "neutron_lib": (args.neutron_lib, args.lib_rev)}, args.rev)
    try:
        rules = collect(loader)
        dangling = sorted({(name, ref) for name, rule in rules.items()
                           for ref in referenced_rules(rule.check_str) if ref not in rules})
        if dangling:
            raise GenerationError("rules reference undefined rules: "
                                  + ", ".join(f"{n} -> {r}" for n, r in dangling))
        text = render(rules, loader.commit("neutron"), loader.commit("neutron_lib"))
    except GenerationError as error:
        sys.exit(f"neutron-policy-defaults: {error}")
    if args.output == "-":
        sys.stdout.write(text)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            f.write(text)
        print(f"wrote {len(rules)} rules to {os.path.normpath(args.output)}", file=sys.stderr)


if __name__ == "__main__":
    main()
