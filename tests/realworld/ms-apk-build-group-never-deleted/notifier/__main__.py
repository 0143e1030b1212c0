print('notify')
