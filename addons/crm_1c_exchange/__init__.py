# CommerceML 2 exchange with 1C: classes are registered from tryton.cfg.
# Importing routes registers /<db>/crm_1c/exchange with trytond.wsgi (once:
# not again when a test runner imports the folder under another name).
if __name__ == 'trytond.modules.crm_1c_exchange':
    from . import routes

    __all__ = ['routes']
