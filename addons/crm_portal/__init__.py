# Core CRM module: classes are registered from tryton.cfg ([register]).
# Importing routes registers the REST API's HTTP routes with trytond.wsgi
# (once: not again when a test runner imports the folder as 'crm_portal').
if __name__ == 'trytond.modules.crm_portal':
    from . import routes

    __all__ = ['routes']
