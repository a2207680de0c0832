# Open lines: classes are registered from tryton.cfg ([register]).
# Importing routes registers the public HTTP routes (widget, Telegram) with
# trytond.wsgi, once: not again when a test runner imports the folder.
if __name__ == 'trytond.modules.crm_openlines':
    from . import routes

    __all__ = ['routes']
