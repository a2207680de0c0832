# `crm tenant features` (switch features on and off, keeping their data)
# and `crm tenant purge-feature` (destroy a switched-off feature's data).
import sys

from . import features as feature_map
from .cli_db import (
    CliError, activated_modules, check_name, load_pool, require_tenant)


def cmd_tenant_features(args):
    name = check_name(args.name)
    modules = require_tenant(name)
    try:
        enable = feature_map.parse(args.enable or [])
        disable = feature_map.parse(args.disable or [], allow_all=False)
    except feature_map.FeatureError as exception:
        raise CliError(str(exception))
    if feature_map.CORE_FEATURE in disable:
        raise CliError(
            f"the {feature_map.CORE_FEATURE} feature cannot be disabled: "
            "every other feature builds on it")
    both = set(enable) & set(disable)
    if both:
        raise CliError(
            f"cannot both enable and disable: {', '.join(sorted(both))}")
    to_activate = [feature_map.module_of(f) for f in enable
        if feature_map.module_of(f) not in modules]
    to_remove = [feature_map.module_of(f) for f in disable
        if feature_map.module_of(f) in modules]
    if to_activate or to_remove:
        change_modules(name, to_activate, to_remove)
        modules = activated_modules(name) or set()
    if args.describe:
        print_features(modules)
    else:
        print(f"{name}  {','.join(feature_map.features_of_modules(modules))}")


def print_features(modules):
    "One line per feature: name, state, what it adds"
    installed = feature_map.installed_modules()
    width = max(len(f) for f in feature_map.FEATURES)
    for feature, module in feature_map.FEATURES.items():
        if module in modules:
            state = 'on'
        elif module in installed:
            state = 'off'
        else:
            state = 'not installed'
        _, description = feature_map.DESCRIPTIONS[feature]
        print(f"{feature:<{width}}  {state:<13}  {description}")


def change_modules(name, to_activate, to_remove):
    "Activate and deactivate modules, keeping the data of those removed"
    from .feature_switch_modules import SwitchError, switch_modules
    pool = load_pool(name)
    try:
        switch_modules(name, pool, to_activate, to_remove)
    except SwitchError as exception:
        features = ', '.join(feature_map.feature_of(m) or m
            for m in list(to_remove) + list(to_activate))
        raise CliError(
            f"could not change {features} in tenant '{name}', nothing was "
            f"changed: {exception}")


def cmd_tenant_purge_feature(args):
    from .feature_switch_purge import PurgeError, purge
    name = check_name(args.name)
    modules = require_tenant(name)
    feature = (args.feature or '').strip().lower()
    if feature not in feature_map.FEATURES:
        raise CliError(f"unknown feature '{feature}'; valid features: "
            f"{', '.join(feature_map.FEATURES)}")
    if feature == feature_map.CORE_FEATURE:
        raise CliError(
            f"the {feature_map.CORE_FEATURE} feature cannot be purged: "
            "drop the tenant instead")
    module = feature_map.module_of(feature)
    if module in modules:
        raise CliError(f"feature '{feature}' is on in tenant '{name}': "
            f"switch it off first (crm tenant features {name} "
            f"--disable {feature})")
    if module not in feature_map.installed_modules():
        raise CliError(f"feature '{feature}' needs the module {module} to "
            "know its tables, which is not installed here (install the "
            f"package {feature_map.package_of(feature)})")
    if not args.yes:
        sys.stderr.write(
            f"This deletes every record of the feature '{feature}' in "
            f"tenant '{name}' for good.\nType the tenant name to confirm: ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip()
        if answer != name:
            raise CliError("purge cancelled: the confirmation did not match "
                "the tenant name (or give --yes)")
    try:
        tables, columns = purge(name, module)
    except PurgeError as exception:
        raise CliError(str(exception))
    print(f"tenant {name}: data of {feature} deleted "
        f"({len(tables)} tables, {len(columns)} columns)")
