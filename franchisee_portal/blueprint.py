"""The portal's blueprint; each area adds its routes in ``franchisee_portal/views/``."""
from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates")
