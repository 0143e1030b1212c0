<?php echo 'hi';
