def graph():
    return None
